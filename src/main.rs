//! The `qecnet` command line.

fn main() -> std::process::ExitCode {
    qecnet::main()
}
