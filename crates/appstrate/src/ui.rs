//! The terminal: stdout for results, stderr for diagnostics, clack-style
//! framing, spinners and prompts that only appear on a terminal.
//!
//! Every byte a command prints goes through here, so the rules live in one
//! place: stdout carries only what a script would capture; errors, the
//! frame (intro, notes, spinners, outro) and prompts go to stderr; no
//! colour when piped unless forced; no prompt without a TTY.

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
    /// stderr is a terminal: spinners animate, and a secret meant for the
    /// person at the terminal (install's bootstrap token) may be shown.
    pub stderr_tty: bool,
    /// Columns a frame may use: the terminal's (or `COLUMNS`), capped.
    pub width: usize,
    /// The width is the terminal's or `COLUMNS`, not the default: only
    /// then are outro and info lines wrapped (a log keeps them whole, to
    /// be searched and copied; a note's box always fits `width`).
    width_known: bool,
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
        let stderr_tty = io::stderr().is_terminal();
        let terminal = terminal_columns();
        Ui {
            stdin_tty: io::stdin().is_terminal(),
            stdout_tty,
            color: color_enabled(env, stdout_tty),
            stderr_color: color_enabled(env, stderr_tty),
            stderr_tty,
            width: frame_width(env.var("COLUMNS"), terminal),
            width_known: env.var_non_empty("COLUMNS").is_some() || terminal.is_some(),
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

    /// Writes a piece of the frame, on stderr: decorations are never data.
    /// Failures to write are ignored, as for any diagnostic.
    pub fn frame(&self, text: &str) -> Result<(), CliError> {
        let mut stderr = io::stderr().lock();
        let _ = stderr.write_all(text.as_bytes());
        let _ = stderr.flush();
        Ok(())
    }

    fn frame_color(&self) -> bool {
        self.stderr_color
    }

    pub fn intro(&self, title: &str) -> Result<(), CliError> {
        self.frame_open.set(true);
        self.frame(&format!("{}  {title}\n", self.gray("┌")))
    }

    pub fn outro(&self, message: &str) -> Result<(), CliError> {
        self.frame_open.set(false);
        self.frame(&format!(
            "{}\n{}  {}\n\n",
            self.gray("│"),
            self.gray("└"),
            indent_continuation(&self.fit(message), "   ")
        ))
    }

    /// `message` wrapped to fit after a three-column gutter (`└  `), when
    /// the width is known.
    fn fit(&self, message: &str) -> String {
        if !self.width_known {
            return message.to_string();
        }
        wrap_lines(message, self.width.saturating_sub(3)).join("\n")
    }

    /// A clack note: a titled box whose body lines are framed by `│`,
    /// wrapped so the box fits in [`Ui::width`] columns.
    pub fn note(&self, title: &str, body: &str) -> Result<(), CliError> {
        // `│  ` + text + `  │`: six columns of frame around the text.
        let lines = wrap_lines(body, self.width.saturating_sub(6));
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
            indent_continuation(&self.fit(message), "│  ")
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
        let bar = if self.stderr_tty {
            let bar = indicatif::ProgressBar::with_draw_target(
                None,
                indicatif::ProgressDrawTarget::stderr(),
            );
            bar.set_style(
                // Magenta only where colour is on (NO_COLOR, FORCE_COLOR).
                indicatif::ProgressStyle::with_template(if self.stderr_color {
                    "{spinner:.magenta}  {msg}"
                } else {
                    "{spinner}  {msg}"
                })
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

    /// Closes a frame a command left open on success (a safety net: every
    /// exit path ends with `└`).
    pub fn finish(&self) {
        if self.frame_open.replace(false) {
            let _ = self.frame(&format!("{}\n", self.gray("└")));
        }
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

    /// A prompt's failure; Ctrl-C closes the frame with `└  Cancelled.`.
    fn prompt_error(&self, err: io::Error) -> CliError {
        if err.kind() == io::ErrorKind::Interrupted {
            // clack prints its own cancel line; say it plainly like the original.
            self.frame_open.set(false);
            let _ = self.frame("└  Cancelled.\n\n");
            return CliError::interrupted(libc::SIGINT);
        }
        CliError::from(err)
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
            .map_err(|e| self.prompt_error(e))
    }

    /// Asks for optional text; empty input gives an empty string.
    pub fn prompt_optional(&self, message: &str) -> Result<String, CliError> {
        if !self.interactive() {
            return Err(Self::refuse_prompt(message));
        }
        cliclack::input(message)
            .required(false)
            .interact()
            .map_err(|e| self.prompt_error(e))
    }

    #[allow(dead_code)] // for the commands that ask before acting (install, uninstall)
    pub fn confirm(&self, message: &str, default: bool) -> Result<bool, CliError> {
        if !self.interactive() {
            return Err(Self::refuse_prompt(message));
        }
        cliclack::confirm(message)
            .initial_value(default)
            .interact()
            .map_err(|e| self.prompt_error(e))
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
        select.interact().map_err(|e| self.prompt_error(e))
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
pub fn report_before_ui(err: &CliError, env: &Env) -> ExitStatus {
    warn_line(&error_lines(
        err,
        color_enabled(env, io::stderr().is_terminal()),
    ));
    err.exit_status()
}

/// A diagnostic line on stderr, for the moments before a [`Ui`] exists.
pub fn warn_line(text: &str) {
    let mut stderr = io::stderr().lock();
    let _ = writeln!(stderr, "{text}");
    let _ = stderr.flush();
}

pub struct Spinner {
    bar: Option<indicatif::ProgressBar>,
}

impl Spinner {
    /// Stops the spinner, leaving `◇  <label>` behind.
    pub fn stop(mut self, ui: &Ui, label: &str) -> Result<(), CliError> {
        self.clear();
        ui.frame(&format!("◇  {label}\n"))
    }

    /// Stops the spinner without a final line (the caller reports the error).
    pub fn fail(mut self) {
        self.clear();
    }

    fn clear(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// A spinner left behind by an early return (`?`) is cleared too, so the
/// error line never lands after a half-drawn spinner line.
impl Drop for Spinner {
    fn drop(&mut self) {
        self.clear();
    }
}

/// `NO_COLOR` (non-empty) wins; then `FORCE_COLOR` or `CLICOLOR_FORCE`
/// (non-empty, not `0`); otherwise colour only on a terminal. The help
/// follows the same rule (`clap_color_choice`).
pub fn color_enabled(env: &Env, is_tty: bool) -> bool {
    match forced_color(|name| env.var(name).map(str::to_string)) {
        Some(forced) => forced,
        None => is_tty,
    }
}

/// `Some(false)` under `NO_COLOR`, `Some(true)` under `FORCE_COLOR` or
/// `CLICOLOR_FORCE`, `None` when the terminal decides.
pub fn forced_color(var: impl Fn(&str) -> Option<String>) -> Option<bool> {
    let set = |name: &str| var(name).filter(|v| !v.is_empty());
    if set("NO_COLOR").is_some() {
        return Some(false);
    }
    let forced = ["FORCE_COLOR", "CLICOLOR_FORCE"]
        .iter()
        .any(|name| set(name).is_some_and(|v| v != "0"));
    forced.then_some(true)
}

/// clap's colour for help and usage errors, by the rule of [`color_enabled`].
pub fn clap_color_choice(env: &Env) -> clap::ColorChoice {
    match forced_color(|name| env.var(name).map(str::to_string)) {
        Some(true) => clap::ColorChoice::Always,
        Some(false) => clap::ColorChoice::Never,
        None => clap::ColorChoice::Auto,
    }
}

/// The widest a frame gets, however wide the terminal.
const MAX_FRAME_WIDTH: usize = 100;
/// Without a terminal or `COLUMNS`: the classic 80 columns.
const DEFAULT_FRAME_WIDTH: usize = 80;
/// Narrower than this and the text would be wrapped a word per line.
const MIN_FRAME_WIDTH: usize = 40;

/// `COLUMNS` when it is a number, else the terminal's width, else 80;
/// capped to 40..=100.
pub fn frame_width(columns: Option<&str>, terminal: Option<usize>) -> usize {
    columns
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|c| *c > 0)
        .or(terminal)
        .unwrap_or(DEFAULT_FRAME_WIDTH)
        .clamp(MIN_FRAME_WIDTH, MAX_FRAME_WIDTH)
}

/// The width of the terminal on stderr (where frames go), if it is one.
fn terminal_columns() -> Option<usize> {
    terminal_size::terminal_size_of(io::stderr()).map(|(w, _)| usize::from(w.0))
}

/// `text` with every line after the first prefixed by `gutter` (empty
/// lines get the gutter without its trailing spaces).
fn indent_continuation(text: &str, gutter: &str) -> String {
    let mut lines = text.split('\n');
    let mut out = lines.next().unwrap_or_default().to_string();
    for line in lines {
        out.push('\n');
        if line.is_empty() {
            out.push_str(gutter.trim_end());
        } else {
            out.push_str(gutter);
            out.push_str(line);
        }
    }
    out
}

/// `text`'s lines wrapped at word boundaries to `width` columns; a word
/// longer than the width (a URL, a path) is cut at the width, so the
/// frame around it still fits the terminal.
pub fn wrap_lines(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut out = Vec::new();
    for line in text.lines() {
        if line.chars().count() <= width {
            out.push(line.to_string());
            continue;
        }
        let indent: String = line.chars().take_while(|c| *c == ' ').collect();
        let mut current = indent.clone();
        for word in line.split_whitespace() {
            let used = current.chars().count();
            let blank = current.trim().is_empty();
            let needed = if blank { 0 } else { 1 } + word.chars().count();
            if !blank && used + needed > width {
                out.push(std::mem::replace(&mut current, indent.clone()));
            }
            if !current.trim().is_empty() {
                current.push(' ');
            }
            for c in word.chars() {
                if current.chars().count() >= width {
                    out.push(std::mem::replace(&mut current, indent.clone()));
                }
                current.push(c);
            }
        }
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_width_follows_columns_then_the_terminal_capped() {
        assert_eq!(frame_width(None, None), 80);
        assert_eq!(frame_width(None, Some(60)), 60);
        assert_eq!(frame_width(Some("72"), Some(200)), 72);
        assert_eq!(frame_width(Some("x"), Some(200)), 100);
        assert_eq!(frame_width(Some("10"), None), 40);
    }

    #[test]
    fn wrapping_keeps_words_and_indent() {
        assert_eq!(
            wrap_lines("  aa bb cc dd\nshort", 8),
            vec!["  aa bb", "  cc dd", "short"]
        );
        assert_eq!(
            wrap_lines("see https://example.com/a now", 10),
            vec!["see", "https://ex", "ample.com/", "a now"]
        );
        for line in wrap_lines(&"word ".repeat(40), 17) {
            assert!(line.chars().count() <= 17, "{line}");
        }
    }

    #[test]
    fn no_color_wins_over_forcing() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(forced_color(vars(&[])), None);
        assert_eq!(forced_color(vars(&[("FORCE_COLOR", "1")])), Some(true));
        assert_eq!(forced_color(vars(&[("CLICOLOR_FORCE", "1")])), Some(true));
        assert_eq!(forced_color(vars(&[("FORCE_COLOR", "0")])), None);
        assert_eq!(
            forced_color(vars(&[("NO_COLOR", "1"), ("FORCE_COLOR", "1")])),
            Some(false)
        );
    }
}
