//! `--jq <expr>`: a jq program (the jaq crates, in-process) run over a JSON
//! reply. Compiled before any request, so a bad program is a usage error
//! that costs no round trip (docs/api-command.md#pages-and-jq). Results are
//! printed one per line, compact, strings raw (as `jq -r` prints them).
//! `jq_worker.rs` runs it off the async runtime's thread.

use std::io::Write;

use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Vars, data};
use jaq_json::Val;

type Data = data::JustLut<Val>;

/// A compiled program.
pub struct JqProgram {
    filter: jaq_core::Filter<Data>,
}

/// What running the program on one input ended with.
#[derive(Debug, PartialEq, Eq)]
pub enum JqFailure {
    /// A runtime error (`error("…")`, indexing a string, …).
    Error(String),
    /// `halt` / `halt_error`: stop with this exit code.
    Halt(i32),
}

impl JqProgram {
    /// Compiles `code`; the error names what jaq expected and where.
    pub fn compile(code: &str) -> Result<JqProgram, String> {
        let defs = jaq_core::defs()
            .chain(jaq_std::defs())
            .chain(jaq_json::defs());
        let funs = jaq_core::funs()
            .chain(jaq_std::funs())
            .chain(jaq_json::funs());
        let loader = Loader::new(defs);
        let arena = Arena::default();
        let modules = loader
            .load(&arena, File { code, path: () })
            .map_err(|errors| describe_load_errors(code, errors))?;
        let filter = Compiler::default()
            .with_funs(funs)
            .compile(modules)
            .map_err(|errors| {
                let names: Vec<String> = errors
                    .into_iter()
                    .flat_map(|(_, undefined)| undefined)
                    .map(|(name, kind)| format!("undefined {} `{name}`", kind.as_str()))
                    .collect();
                format!("invalid --jq expression: {}", names.join(", "))
            })?;
        Ok(JqProgram { filter })
    }

    /// Runs the program on `input` and writes each result on its own line.
    pub fn run(&self, input: Val, out: &mut dyn Write) -> std::io::Result<Result<(), JqFailure>> {
        let ctx = Ctx::<Data>::new(&self.filter.lut, Vars::new([]));
        for result in self.filter.id.run((ctx, input)) {
            let value = match result {
                Ok(value) => value,
                Err(exn) => {
                    return Ok(Err(match exn.get_err() {
                        Ok(error) => JqFailure::Error(error.to_string()),
                        Err(exn) => JqFailure::Halt(exn.get_halt().unwrap_or(5)),
                    }));
                }
            };
            write_result(out, &value)?;
        }
        Ok(Ok(()))
    }
}

/// A string as its bytes (`jq -r`), anything else as compact JSON.
fn write_result(out: &mut dyn Write, value: &Val) -> std::io::Result<()> {
    match value {
        Val::TStr(text) | Val::BStr(text) => out.write_all(text)?,
        other => jaq_json::write::write(out, &jaq_json::write::Pp::default(), 0, other)?,
    }
    out.write_all(b"\n")
}

/// Parses a JSON text as jq sees it.
pub fn parse_json(bytes: &[u8]) -> Result<Val, String> {
    jaq_json::read::parse_single(bytes).map_err(|e| e.to_string())
}

fn describe_load_errors(code: &str, errors: jaq_core::load::Errors<&str, ()>) -> String {
    use jaq_core::load::Error;
    let column = |rest: &str| jaq_core::load::span(code, rest).start + 1;
    let mut found = Vec::new();
    for (_, error) in errors {
        match error {
            Error::Io(items) => found.extend(items.into_iter().map(|(_, e)| e)),
            Error::Lex(items) => found.extend(items.into_iter().map(|(expected, rest)| {
                format!("expected {} at column {}", expected.as_str(), column(rest))
            })),
            Error::Parse(items) => found.extend(items.into_iter().map(|(expected, rest)| {
                format!("expected {} at column {}", expected.as_str(), column(rest))
            })),
        }
    }
    format!("invalid --jq expression: {}", found.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(code: &str, input: &str) -> (String, Result<(), JqFailure>) {
        let program = JqProgram::compile(code).unwrap_or_else(|e| panic!("{e}"));
        let input = parse_json(input.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        let mut out = Vec::new();
        let outcome = program
            .run(input, &mut out)
            .unwrap_or_else(|e| panic!("{e}"));
        (String::from_utf8_lossy(&out).into_owned(), outcome)
    }

    #[test]
    fn strings_are_raw_and_other_values_compact() {
        let (out, outcome) = run(
            ".data[] | .name, {id}",
            r#"{"data":[{"id":"a","name":"Ann \"A\""},{"id":"b","name":"Bo"}]}"#,
        );
        assert_eq!(outcome, Ok(()));
        assert_eq!(out, "Ann \"A\"\n{\"id\":\"a\"}\nBo\n{\"id\":\"b\"}\n");
    }

    #[test]
    fn standard_library_filters_are_available() {
        let (out, _) = run(
            "[.[] | select(test(\"^a\"))] | length",
            r#"["ab","ba","ac"]"#,
        );
        assert_eq!(out, "2\n");
    }

    #[test]
    fn bad_programs_are_refused_with_where_and_what() {
        let err = JqProgram::compile(".data[").err().unwrap_or_default();
        assert!(
            err.starts_with("invalid --jq expression: expected"),
            "{err}"
        );
        let err = JqProgram::compile("nosuchfilter").err().unwrap_or_default();
        assert!(err.contains("undefined filter `nosuchfilter`"), "{err}");
    }

    #[test]
    fn runtime_errors_and_halts_are_reported() {
        let (_, outcome) = run(".a", "[1]");
        assert!(
            matches!(outcome, Err(JqFailure::Error(ref m)) if m.contains("cannot index")),
            "{outcome:?}"
        );
        let (_, outcome) = run("halt_error(3)", "\"bye\"");
        assert_eq!(outcome, Err(JqFailure::Halt(3)));
    }
}
