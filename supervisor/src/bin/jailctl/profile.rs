//! `jailctl profile ...`: what a profile allows, in words a reviewer can check.

#[derive(clap::Subcommand)]
pub enum ProfileCmd {
    /// The profiles in the profiles directory.
    List,
}

pub fn main(cmd: ProfileCmd) -> anyhow::Result<i32> {
    match cmd {
        ProfileCmd::List => {
            for name in jaild::profile::list(&jaild::Config::discover().profiles_dir) {
                println!("{name}");
            }
            Ok(0)
        }
    }
}
