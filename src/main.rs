//! The `svalbard` binary: everything lives in the library; see `svalbard::cli`.

fn main() {
    std::process::exit(svalbard::cli::main());
}
