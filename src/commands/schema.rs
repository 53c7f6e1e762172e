//! `flinkops schema`: print or write the JSON Schema of the spec documents (or of `plan -o json`).

use std::io::Write;

use crate::cli::SchemaArgs;
use crate::exit;
use crate::spec::schema::schema_json;

/// `flinkops schema`: print or write the JSON Schema.
pub fn run(args: &SchemaArgs) -> u8 {
    let text = if args.plan { crate::render::plan_schema_json() } else { schema_json() };
    let result = match &args.out {
        Some(path) => std::fs::write(path, text),
        None => std::io::stdout().lock().write_all(text.as_bytes()),
    };
    match result {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("error: cannot write the schema: {e}");
            exit::ERROR
        }
    }
}
