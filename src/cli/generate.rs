//! Artefacts generated from the code's own definitions: JSON Schemas, shell completions, the
//! man page.

use crate::exit::Exit;

pub fn schema(_scenario: bool) -> Exit {
    super::error("`runbook schema` is being built");
    Exit::Usage
}

pub fn completions(_shell: clap_complete::Shell) -> Exit {
    super::error("`runbook completions` is being built");
    Exit::Usage
}

pub fn man() -> Exit {
    super::error("`runbook man` is being built");
    Exit::Usage
}
