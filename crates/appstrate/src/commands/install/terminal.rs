//! The install steps' [`InstallUi`] on this terminal: spinners, clack
//! notes and prompts from [`Ui`].

use appstrate_selfhost::install::InstallUi;

use crate::error::CliError;
use crate::ui::{Spinner, Ui};

pub struct InstallTerminal<'a> {
    ui: &'a Ui,
    spinner: Option<Spinner>,
}

impl<'a> InstallTerminal<'a> {
    pub fn new(ui: &'a Ui) -> Self {
        InstallTerminal { ui, spinner: None }
    }
}

impl InstallUi for InstallTerminal<'_> {
    type Error = CliError;

    fn spinner_start(&mut self, label: &str) {
        if let Some(previous) = self.spinner.replace(self.ui.spinner(label)) {
            previous.fail();
        }
    }

    fn spinner_stop(&mut self, label: &str) -> Result<(), CliError> {
        match self.spinner.take() {
            Some(spinner) => spinner.stop(self.ui, label),
            None => Ok(()),
        }
    }

    fn spinner_fail(&mut self) {
        if let Some(spinner) = self.spinner.take() {
            spinner.fail();
        }
    }

    fn info(&mut self, message: &str) -> Result<(), CliError> {
        self.ui.info(message)
    }

    fn warn(&mut self, message: &str) {
        self.ui.log_warn(message);
    }

    fn note(&mut self, title: &str, body: &str) -> Result<(), CliError> {
        self.ui.note(title, body)
    }

    fn confirm(&mut self, question: &str, default: bool) -> Result<bool, CliError> {
        self.ui.confirm(question, default)
    }

    fn ask(&mut self, question: &str, default: &str) -> Result<String, CliError> {
        self.ui.prompt_text(question, Some(default))
    }
}
