fn main() {
    std::process::exit(opendesk_steps::cli::main());
}
