//! The `ferros` binary: everything is in the `ferros-cli` library.

fn main() -> std::process::ExitCode {
    ferros_cli::main()
}
