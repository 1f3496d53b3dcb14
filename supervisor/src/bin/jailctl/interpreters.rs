//! `jailctl interpreters ...`: the pinned interpreters.

#[derive(clap::Subcommand)]
pub enum InterpretersCmd {
    /// The interpreter manifests.
    List,
}

pub fn main(cmd: InterpretersCmd) -> anyhow::Result<i32> {
    match cmd {
        InterpretersCmd::List => {
            for name in jaild::interpreter::list(&jaild::Config::discover().interpreters_dir) {
                println!("{name}");
            }
            Ok(0)
        }
    }
}
