"""Builds the AWS stack of tests/real/aws.rs in moto, in one process (boto3 from the tests'
virtualenv: the CLI would start Python once per call).

Reads the plan as JSON on stdin:
  {"cpu": [22.0, 27.5, 25.0], "response_s": [0.04, ...], "elb_502": [120.0, ...] or null,
   "now": UNIX seconds}
and prints the resources as JSON. Values lists are one per minute, newest first, ending a
minute before `now`. The endpoint and credentials come from the environment (AWS_ENDPOINT_URL,
the fake keys), which the test sets to moto's.

With `elb_502` the fault of 2020 is built too: the target group loses two of the group's
instances and still routes to an old instance that is stopped, and the load balancer's
HTTPCode_ELB_502_Count is seeded.
"""

import json
import sys

import boto3

plan = json.load(sys.stdin)
ec2 = boto3.client("ec2")
elbv2 = boto3.client("elbv2")
autoscaling = boto3.client("autoscaling")
cloudwatch = boto3.client("cloudwatch")


def minute(m):
    return plan["now"] - 60 * (m + 1)


vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
subnets = [
    ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=zone)["Subnet"]["SubnetId"]
    for cidr, zone in [("10.0.1.0/24", "us-east-1a"), ("10.0.2.0/24", "us-east-1b")]
]
lb = elbv2.create_load_balancer(Name="launchpad", Subnets=subnets)["LoadBalancers"][0]
lb_arn = lb["LoadBalancerArn"]
tg_arn = elbv2.create_target_group(
    Name="launchpad-web", Protocol="HTTP", Port=80, VpcId=vpc, TargetType="instance"
)["TargetGroups"][0]["TargetGroupArn"]
elbv2.create_listener(
    LoadBalancerArn=lb_arn,
    Protocol="HTTP",
    Port=80,
    DefaultActions=[{"Type": "forward", "TargetGroupArn": tg_arn}],
)
image = ec2.describe_images()["Images"][0]["ImageId"]
ec2.create_launch_template(
    LaunchTemplateName="launchpad-web",
    LaunchTemplateData={"ImageId": image, "InstanceType": "t3.micro"},
)
# Attached to the target group: moto registers the group's instances as targets.
autoscaling.create_auto_scaling_group(
    AutoScalingGroupName="launchpad-web",
    LaunchTemplate={"LaunchTemplateName": "launchpad-web"},
    MinSize=3,
    MaxSize=6,
    DesiredCapacity=3,
    VPCZoneIdentifier=",".join(subnets),
    TargetGroupARNs=[tg_arn],
)
fleet = [
    i["InstanceId"]
    for i in autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["launchpad-web"])[
        "AutoScalingGroups"
    ][0]["Instances"]
]
assert len(fleet) == len(plan["cpu"]), fleet
# An instance from before, outside the group.
stale = ec2.run_instances(
    ImageId=image, InstanceType="t3.micro", MinCount=1, MaxCount=1, SubnetId=subnets[0]
)["Instances"][0]["InstanceId"]

# CloudWatch names an ALB by the end of its ARN: app/NAME/ID.
dimension = [{"Name": "LoadBalancer", "Value": lb_arn.split(":loadbalancer/")[1]}]
cpu = [
    {
        "MetricName": "CPUUtilization",
        "Dimensions": [{"Name": "InstanceId", "Value": instance}],
        "Timestamp": minute(m),
        # The planned value is the busiest minute; the others are a little lower.
        "Value": percent if m == 3 else percent - 4.0,
        "Unit": "Percent",
    }
    for instance, percent in zip(fleet, plan["cpu"])
    for m in range(10)
]
cloudwatch.put_metric_data(Namespace="AWS/EC2", MetricData=cpu)
cloudwatch.put_metric_data(
    Namespace="AWS/ApplicationELB",
    MetricData=[
        {
            "MetricName": "TargetResponseTime",
            "Dimensions": dimension,
            "Timestamp": minute(m),
            "Value": seconds,
            "Unit": "Seconds",
        }
        for m, seconds in enumerate(plan["response_s"])
    ],
)

if plan["elb_502"] is not None:
    elbv2.deregister_targets(TargetGroupArn=tg_arn, Targets=[{"Id": i} for i in fleet[:2]])
    elbv2.register_targets(TargetGroupArn=tg_arn, Targets=[{"Id": stale}])
    ec2.stop_instances(InstanceIds=[stale])
    # CloudWatch has no datapoint for a minute without 502s.
    cloudwatch.put_metric_data(
        Namespace="AWS/ApplicationELB",
        MetricData=[
            {
                "MetricName": "HTTPCode_ELB_502_Count",
                "Dimensions": dimension,
                "Timestamp": minute(m),
                "Value": count,
                "Unit": "Count",
            }
            for m, count in enumerate(plan["elb_502"])
            if count > 0
        ],
    )

json.dump(
    {
        "load_balancer_arn": lb_arn,
        "target_group_arn": tg_arn,
        "group": "launchpad-web",
        "fleet": fleet,
        "stale": stale,
    },
    sys.stdout,
)
