//! `runbook serve`: arguments; the server itself is src/serve/.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use crate::exit::Exit;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The routes file: which alerts start which runbook, and how (see the README).
    #[arg(long, value_name = "FILE")]
    pub routes: PathBuf,
    /// Where to listen for Alertmanager's webhook, approvals and scrapes.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9095")]
    pub listen: SocketAddr,
    /// Where the runs write their timelines.
    #[arg(long, value_name = "DIR", default_value = "timelines")]
    pub timeline_dir: PathBuf,
    /// The URL people reach this server at, for the approve links in notifications
    /// [default: http://ADDR].
    #[arg(long, value_name = "URL")]
    pub external_url: Option<String>,
}

pub fn serve(args: ServeArgs) -> Exit {
    crate::serve::serve(crate::serve::Options {
        routes: args.routes,
        listen: args.listen,
        timeline_dir: args.timeline_dir,
        external_url: args.external_url,
    })
}
