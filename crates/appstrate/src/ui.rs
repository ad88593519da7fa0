//! The terminal: stdout for results, stderr for diagnostics, clack-style
//! framing, spinners and prompts that only appear on a terminal.
//!
//! Every byte a command prints goes through here, so the rules (errors on
//! stderr, no colour when piped, no prompt without a TTY) live in one place.

use std::io::{self, IsTerminal, Write};
use std::time::Duration;

use anstyle::{AnsiColor, Color, Style};
use appstrate_platform::Env;

use crate::error::{CliError, ErrorKind, ExitStatus};
use crate::style;

pub struct Ui {
    pub stdin_tty: bool,
    pub stdout_tty: bool,
    /// ANSI colour on stdout (TTY, no `NO_COLOR`, or forced by `FORCE_COLOR`).
    pub color: bool,
    /// The same rule for stderr, where errors, frames and spinners go.
    pub stderr_color: bool,
    /// The clack frame (intro, outro, notes, spinners) goes to stderr, so
    /// stdout carries only what a script would capture. Commands opt in
    /// one by one (login, logout so far; README "Output streams").
    pub frames_on_stderr: bool,
    /// An intro was printed and no outro yet: an error closes the frame.
    frame_open: std::cell::Cell<bool>,
}

/// One choice in a picker.
pub struct Choice<T> {
    pub value: T,
    pub label: String,
    pub hint: String,
}

impl Ui {
    pub fn detect(env: &Env) -> Self {
        let stdout_tty = io::stdout().is_terminal();
        Ui {
            stdin_tty: io::stdin().is_terminal(),
            stdout_tty,
            color: color_enabled(env, stdout_tty),
            stderr_color: color_enabled(env, io::stderr().is_terminal()),
            frames_on_stderr: false,
            frame_open: std::cell::Cell::new(false),
        }
    }

    /// Whether prompts may be shown.
    pub fn interactive(&self) -> bool {
        self.stdin_tty
    }

    /// Writes to stdout and flushes; a closed pipe becomes a quiet exit 0.
    pub fn out(&self, text: &str) -> Result<(), CliError> {
        self.out_bytes(text.as_bytes())
    }

    /// Writes raw bytes to stdout (a log passed through as it is) and flushes.
    pub fn out_bytes(&self, bytes: &[u8]) -> Result<(), CliError> {
        let mut stdout = io::stdout().lock();
        stdout.write_all(bytes)?;
        stdout.flush()?;
        Ok(())
    }

    /// Writes a line to stdout.
    pub fn line(&self, text: &str) -> Result<(), CliError> {
        self.out(&format!("{text}\n"))
    }

    /// Writes a diagnostic line to stderr. Failures to write are ignored:
    /// there is nowhere left to report them.
    pub fn warn(&self, text: &str) {
        warn_line(text);
    }

    /// Writes a piece of the frame where frames go (see `frames_on_stderr`).
    pub fn frame(&self, text: &str) -> Result<(), CliError> {
        if self.frames_on_stderr {
            let mut stderr = io::stderr().lock();
            let _ = stderr.write_all(text.as_bytes());
            let _ = stderr.flush();
            Ok(())
        } else {
            self.out(text)
        }
    }

    fn frame_color(&self) -> bool {
        if self.frames_on_stderr {
            self.stderr_color
        } else {
            self.color
        }
    }

    pub fn intro(&self, title: &str) -> Result<(), CliError> {
        self.frame_open.set(true);
        self.frame(&format!("{}  {title}\n", self.gray("┌")))
    }

    pub fn outro(&self, message: &str) -> Result<(), CliError> {
        self.frame_open.set(false);
        self.frame(&format!(
            "{}\n{}  {message}\n\n",
            self.gray("│"),
            self.gray("└")
        ))
    }

    /// A clack note: a titled box whose body lines are framed by `│`.
    pub fn note(&self, title: &str, body: &str) -> Result<(), CliError> {
        let lines: Vec<&str> = body.lines().collect();
        let width = lines
            .iter()
            .map(|l| l.chars().count())
            .chain(std::iter::once(title.chars().count()))
            .max()
            .unwrap_or(0);
        let mut out = format!("{}\n", self.gray("│"));
        let dashes = "─".repeat(width.saturating_sub(title.chars().count()) + 1);
        out.push_str(&format!("◇  {title} {}╮\n", self.gray(&dashes)));
        out.push_str(&format!(
            "{}{}{}\n",
            self.gray("│"),
            " ".repeat(width + 4),
            self.gray("│")
        ));
        for line in &lines {
            let pad = width - line.chars().count();
            out.push_str(&format!(
                "{}  {}{}  {}\n",
                self.gray("│"),
                self.dim(line),
                " ".repeat(pad),
                self.gray("│")
            ));
        }
        out.push_str(&format!(
            "{}{}{}\n",
            self.gray("│"),
            " ".repeat(width + 4),
            self.gray("│")
        ));
        out.push_str(&format!(
            "{}{}╯\n",
            self.gray("├"),
            self.gray(&"─".repeat(width + 4))
        ));
        self.frame(&out)
    }

    /// `●  message` (clack `log.info`), continuation lines framed.
    pub fn info(&self, message: &str) -> Result<(), CliError> {
        self.frame(&format!(
            "{}\n●  {}\n",
            self.gray("│"),
            message.replace('\n', "\n│  ")
        ))
    }

    /// `▲  message` on stderr: a warning that is not an error.
    pub fn log_warn(&self, message: &str) {
        self.warn(&format!("▲  {}", message.replace('\n', "\n│  ")));
    }

    fn dim(&self, s: &str) -> String {
        if self.frame_color() {
            style::dim(s)
        } else {
            s.to_string()
        }
    }

    /// A spinner on a terminal; nothing until `stop` when piped.
    pub fn spinner(&self, label: &str) -> Spinner {
        let frame_tty = if self.frames_on_stderr {
            io::stderr().is_terminal()
        } else {
            self.stdout_tty
        };
        let bar = if frame_tty {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_style(
                indicatif::ProgressStyle::with_template("{spinner:.magenta}  {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner())
                    .tick_strings(&["◒", "◐", "◓", "◑", "◇"]),
            );
            bar.set_message(label.to_string());
            bar.enable_steady_tick(Duration::from_millis(80));
            Some(bar)
        } else {
            None
        };
        Spinner { bar }
    }

    /// Prints an error (`error: <message>`, then `hint: <hint>`) and
    /// returns the status to exit with.
    pub fn report(&self, err: &CliError) -> ExitStatus {
        if self.frame_open.replace(false) && err.kind != ErrorKind::BrokenPipe {
            // Close the frame the command opened, on its error path too.
            let _ = self.frame(&format!("{}\n", self.gray("└")));
        }
        if !err.silent && err.kind != ErrorKind::BrokenPipe {
            self.warn(&error_lines(err, self.stderr_color));
        }
        err.exit_status()
    }

    fn gray(&self, s: &str) -> String {
        if self.frame_color() {
            style::gray(s)
        } else {
            s.to_string()
        }
    }

    fn refuse_prompt(message: &str) -> CliError {
        CliError::usage(format!(
            "Cannot prompt \"{message}\": stdin is not a TTY. Re-run from an interactive terminal, or pass the matching flag so the command doesn't need to prompt (see `appstrate <command> --help`)."
        ))
    }

    /// Asks for a line of text. `default` is offered and used on empty input.
    pub fn prompt_text(&self, message: &str, default: Option<&str>) -> Result<String, CliError> {
        if !self.interactive() {
            return Err(Self::refuse_prompt(message));
        }
        let mut input = cliclack::input(message);
        if let Some(default) = default {
            input = input.default_input(default);
        }
        input
            .required(default.is_none())
            .interact()
            .map_err(prompt_error)
    }

    /// Asks for optional text; empty input gives an empty string.
    pub fn prompt_optional(&self, message: &str) -> Result<String, CliError> {
        if !self.interactive() {
            return Err(Self::refuse_prompt(message));
        }
        cliclack::input(message)
            .required(false)
            .interact()
            .map_err(prompt_error)
    }

    #[allow(dead_code)] // for the commands that ask before acting (install, uninstall)
    pub fn confirm(&self, message: &str, default: bool) -> Result<bool, CliError> {
        if !self.interactive() {
            return Err(Self::refuse_prompt(message));
        }
        cliclack::confirm(message)
            .initial_value(default)
            .interact()
            .map_err(prompt_error)
    }

    /// A picker; `initial` is the index pre-selected.
    pub fn select<T: Clone + Eq>(
        &self,
        message: &str,
        choices: Vec<Choice<T>>,
        initial: Option<usize>,
    ) -> Result<T, CliError> {
        if !self.interactive() {
            return Err(Self::refuse_prompt(message));
        }
        let initial_value = initial
            .and_then(|i| choices.get(i))
            .map(|c| c.value.clone());
        let mut select = cliclack::select(message);
        for choice in &choices {
            select = select.item(choice.value.clone(), &choice.label, &choice.hint);
        }
        if let Some(value) = initial_value {
            select = select.initial_value(value);
        }
        select.interact().map_err(prompt_error)
    }
}

/// `error: <message>` and, when there is one, `hint: <hint>` on its own
/// line; the labels are bold red and bold cyan when colour is on.
pub fn error_lines(err: &CliError, color: bool) -> String {
    let label = |text: &str, colour: AnsiColor| {
        if color {
            let style = Style::new().bold().fg_color(Some(Color::Ansi(colour)));
            format!("{}{text}{}", style.render(), style.render_reset())
        } else {
            text.to_string()
        }
    };
    let (message, hint) = err.message_and_hint();
    let mut out = format!("{} {message}", label("error:", AnsiColor::Red));
    if let Some(hint) = hint {
        out.push_str(&format!("\n{} {hint}", label("hint:", AnsiColor::Cyan)));
    }
    out
}

/// Reports an error before a [`Ui`] exists (the runtime did not start).
pub fn report_before_ui(err: &CliError) -> ExitStatus {
    let env = Env::from_process();
    warn_line(&error_lines(
        err,
        color_enabled(&env, io::stderr().is_terminal()),
    ));
    err.exit_status()
}

/// A diagnostic line on stderr, for the moments before a [`Ui`] exists.
pub fn warn_line(text: &str) {
    let mut stderr = io::stderr().lock();
    let _ = writeln!(stderr, "{text}");
    let _ = stderr.flush();
}

fn prompt_error(err: io::Error) -> CliError {
    if err.kind() == io::ErrorKind::Interrupted {
        // clack prints its own cancel line; say it plainly like the original.
        let _ = io::stdout().write_all("└  Cancelled.\n\n".as_bytes());
        return CliError::interrupted(libc::SIGINT);
    }
    CliError::from(err)
}

pub struct Spinner {
    bar: Option<indicatif::ProgressBar>,
}

impl Spinner {
    /// Stops the spinner, leaving `◇  <label>` behind.
    pub fn stop(self, ui: &Ui, label: &str) -> Result<(), CliError> {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
        ui.frame(&format!("◇  {label}\n"))
    }

    /// Stops the spinner without a final line (the caller reports the error).
    pub fn fail(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

/// `NO_COLOR` (non-empty) wins; then `FORCE_COLOR` or `CLICOLOR_FORCE`
/// (non-empty, not `0`); otherwise colour only on a terminal.
pub fn color_enabled(env: &Env, is_tty: bool) -> bool {
    if env.var_non_empty("NO_COLOR").is_some() {
        return false;
    }
    let forced = |name| env.var_non_empty(name).is_some_and(|v| v != "0");
    forced("FORCE_COLOR") || forced("CLICOLOR_FORCE") || is_tty
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> Env {
        let mut env = Env::default();
        for (k, v) in vars {
            env.set_var(k, v);
        }
        env
    }

    #[test]
    fn colour_rules() {
        assert!(color_enabled(&env(&[]), true));
        assert!(!color_enabled(&env(&[]), false));
        assert!(color_enabled(&env(&[("FORCE_COLOR", "1")]), false));
        assert!(color_enabled(&env(&[("CLICOLOR_FORCE", "1")]), false));
        assert!(!color_enabled(&env(&[("CLICOLOR_FORCE", "0")]), false));
        assert!(!color_enabled(
            &env(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]),
            true
        ));
    }
}
