//! Ask before changing anything: Terraform's "Only 'yes' will be accepted to approve."
//!
//! Owns the prompt and its answer only; the caller prints the plan before asking and "Apply
//! cancelled." after a refusal. Without a terminal there is nobody to ask, so apply refuses rather
//! than guessing: piping `yes` into flinkops must not stand in for reviewing a plan.

use std::io::{BufRead, IsTerminal, Write};

/// The user's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approved,
    Declined,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfirmError {
    #[error(
        "refusing to act without confirmation: stdin is not a terminal; review what is shown above \
         and pass --auto-approve (`apply` also takes a saved plan file)"
    )]
    NoTerminal,
    #[error("cannot ask for confirmation on the terminal")]
    Io(#[source] std::io::Error),
}

/// Ask on `output` and read one line of `input`; only `yes` approves. `auto_approve` approves
/// without asking; without a terminal (`is_terminal` false) it is an error to need an answer.
/// `context` names what will be changed, e.g. "the Flink cluster at http://flink:8081".
pub fn confirm(
    context: &str,
    auto_approve: bool,
    input: &mut impl BufRead,
    output: &mut impl Write,
    is_terminal: bool,
) -> Result<Decision, ConfirmError> {
    if auto_approve {
        return Ok(Decision::Approved);
    }
    if !is_terminal {
        return Err(ConfirmError::NoTerminal);
    }
    ask(context, output).map_err(ConfirmError::Io)?;
    let mut line = Vec::new();
    if input.read_until(b'\n', &mut line).map_err(ConfirmError::Io)? == 0 {
        // End of input (Ctrl-D): finish the prompt line so the caller's message starts on its own.
        writeln!(output).and_then(|()| output.flush()).map_err(ConfirmError::Io)?;
        return Ok(Decision::Declined);
    }
    let approved = String::from_utf8_lossy(&line).trim() == "yes";
    Ok(if approved { Decision::Approved } else { Decision::Declined })
}

/// [`confirm`] on the real terminal: reads stdin, asks on stderr (stdout may carry a plan).
pub fn confirm_on_terminal(context: &str, auto_approve: bool) -> Result<Decision, ConfirmError> {
    let stdin = std::io::stdin();
    let is_terminal = stdin.is_terminal();
    confirm(context, auto_approve, &mut stdin.lock(), &mut std::io::stderr().lock(), is_terminal)
}

fn ask(context: &str, output: &mut impl Write) -> std::io::Result<()> {
    write!(
        output,
        "Do you want to perform these actions?\n  \
         flinkops will perform the actions described above on {context}.\n  \
         Only 'yes' will be accepted to approve.\n\n  \
         Enter a value: "
    )?;
    output.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTEXT: &str = "the Flink cluster at http://flink:8081";

    const PROMPT: &str = "Do you want to perform these actions?\n  \
        flinkops will perform the actions described above on the Flink cluster at http://flink:8081.\n  \
        Only 'yes' will be accepted to approve.\n\n  \
        Enter a value: ";

    /// The decision, what was printed, and what was left unread.
    fn answer(
        input: &str,
        auto_approve: bool,
        is_terminal: bool,
    ) -> (Result<Decision, ConfirmError>, String, String) {
        let mut reader = std::io::Cursor::new(input.as_bytes());
        let mut output = Vec::new();
        let decision = confirm(CONTEXT, auto_approve, &mut reader, &mut output, is_terminal);
        let rest = input[reader.position() as usize..].to_string();
        (decision, String::from_utf8(output).unwrap(), rest)
    }

    #[test]
    fn auto_approve_approves_without_asking_or_reading() {
        for is_terminal in [true, false] {
            let (decision, printed, rest) = answer("no\n", true, is_terminal);
            assert_eq!(decision.unwrap(), Decision::Approved);
            assert_eq!((printed.as_str(), rest.as_str()), ("", "no\n"));
        }
    }

    #[test]
    fn without_a_terminal_it_refuses_and_says_how_to_proceed() {
        let (decision, printed, rest) = answer("yes\n", false, false);
        let err = decision.unwrap_err();
        assert!(matches!(err, ConfirmError::NoTerminal));
        assert_eq!(
            err.to_string(),
            "refusing to act without confirmation: stdin is not a terminal; review what is shown \
             above and pass --auto-approve (`apply` also takes a saved plan file)"
        );
        assert_eq!((printed.as_str(), rest.as_str()), ("", "yes\n"), "piped input is not an answer");
    }

    #[test]
    fn yes_approves_after_the_terraform_style_prompt() {
        let (decision, printed, _) = answer("  yes \n", false, true);
        assert_eq!(decision.unwrap(), Decision::Approved);
        assert_eq!(printed, PROMPT);
    }

    #[test]
    fn anything_but_yes_declines() {
        for input in ["y\n", "Yes\n", "YES\n", "no\n", "\n", "yes please\n", "yess\n"] {
            let (decision, printed, _) = answer(input, false, true);
            assert_eq!(decision.unwrap(), Decision::Declined, "{input:?}");
            assert_eq!(printed, PROMPT);
        }
    }

    #[test]
    fn yes_without_a_final_newline_approves() {
        assert_eq!(answer("yes", false, true).0.unwrap(), Decision::Approved);
    }

    #[test]
    fn end_of_input_declines_and_ends_the_prompt_line() {
        let (decision, printed, _) = answer("", false, true);
        assert_eq!(decision.unwrap(), Decision::Declined);
        assert_eq!(printed, format!("{PROMPT}\n"));
    }

    #[test]
    fn only_one_line_is_read() {
        let (decision, _, rest) = answer("no\nyes\n", false, true);
        assert_eq!(decision.unwrap(), Decision::Declined);
        assert_eq!(rest, "yes\n");
    }

    #[test]
    fn a_broken_terminal_is_an_error_not_a_decision() {
        struct Broken;
        impl std::io::Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("input/output error"))
            }
        }
        let mut input = std::io::BufReader::new(Broken);
        let err = confirm(CONTEXT, false, &mut input, &mut Vec::new(), true).unwrap_err();
        assert!(matches!(err, ConfirmError::Io(_)), "{err:?}");
    }
}
