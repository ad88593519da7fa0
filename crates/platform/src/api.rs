//! Typed calls used by several commands: organizations and applications
//! (docs/platform-api.md#endpoints).

use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{PlatformError, Result};
use crate::session::Session;

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Org {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub slug: String,
    #[serde(default)]
    pub role: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub is_default: bool,
}

fn parse_items<T: for<'de> Deserialize<'de>>(path: &str, items: Vec<Value>) -> Result<Vec<T>> {
    items
        .into_iter()
        .map(|item| {
            serde_json::from_value(item).map_err(|err| {
                PlatformError::Protocol(format!("Unexpected item in the reply to {path}: {err}"))
            })
        })
        .collect()
}

fn parse_one<T: for<'de> Deserialize<'de>>(path: &str, value: Value) -> Result<T> {
    serde_json::from_value(value)
        .map_err(|err| PlatformError::Protocol(format!("Unexpected reply to {path}: {err}")))
}

/// `GET /api/orgs`, as typed rows and as the server's raw objects.
pub async fn list_orgs_raw(session: &Session) -> Result<Vec<Value>> {
    session.list("/api/orgs").await
}

pub async fn list_orgs(session: &Session) -> Result<Vec<Org>> {
    parse_items("/api/orgs", list_orgs_raw(session).await?)
}

/// `POST /api/orgs` with `{name}` or `{name, slug}` (an empty slug is omitted).
pub async fn create_org(session: &Session, name: &str, slug: Option<&str>) -> Result<Org> {
    let body = match slug.filter(|s| !s.is_empty()) {
        Some(slug) => json!({ "name": name, "slug": slug }),
        None => json!({ "name": name }),
    };
    parse_one("/api/orgs", session.post_json("/api/orgs", &body).await?)
}

pub async fn list_applications_raw(session: &Session) -> Result<Vec<Value>> {
    session.list("/api/applications").await
}

pub async fn list_applications(session: &Session) -> Result<Vec<Application>> {
    parse_items("/api/applications", list_applications_raw(session).await?)
}

pub async fn create_application(session: &Session, name: &str) -> Result<Application> {
    parse_one(
        "/api/applications",
        session
            .post_json("/api/applications", &json!({ "name": name }))
            .await?,
    )
}

/// Exact match on id or slug (trimmed), with the original's messages
/// (docs/platform-api.md#endpoints).
pub fn resolve_org_ref<'a>(orgs: &'a [Org], reference: &str) -> Result<&'a Org> {
    let wanted = reference.trim();
    if wanted.is_empty() {
        return Err(PlatformError::Other("Org reference is empty.".into()));
    }
    if orgs.is_empty() {
        return Err(PlatformError::Other(
            "No organizations found for this profile. Run `appstrate org create` to create one."
                .into(),
        ));
    }
    orgs.iter()
        .find(|o| o.id == wanted || o.slug == wanted)
        .ok_or_else(|| {
            let available: String = orgs
                .iter()
                .map(|o| format!("\n  - {} ({})", o.slug, o.id))
                .collect();
            PlatformError::Other(format!(
                "No organization matches \"{wanted}\". Available:{available}"
            ))
        })
}

/// Exact match on id (trimmed), with the original's messages
/// (docs/platform-api.md#endpoints).
pub fn resolve_app_ref<'a>(apps: &'a [Application], reference: &str) -> Result<&'a Application> {
    let wanted = reference.trim();
    if wanted.is_empty() {
        return Err(PlatformError::Other(
            "Application reference is empty.".into(),
        ));
    }
    if apps.is_empty() {
        return Err(PlatformError::Other(
            "No applications found for this profile. Run `appstrate app create <name>` to create one.".into(),
        ));
    }
    apps.iter().find(|a| a.id == wanted).ok_or_else(|| {
        let available: String = apps
            .iter()
            .map(|a| {
                format!(
                    "\n  - {} ({}){}",
                    a.name,
                    a.id,
                    if a.is_default { " [default]" } else { "" }
                )
            })
            .collect();
        PlatformError::Other(format!(
            "No application matches \"{wanted}\". Available:{available}"
        ))
    })
}

/// The app to pin after an org change: the default one, else the only one.
pub fn default_application(apps: &[Application]) -> Option<&Application> {
    apps.iter()
        .find(|a| a.is_default)
        .or_else(|| if apps.len() == 1 { apps.first() } else { None })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org(id: &str, slug: &str) -> Org {
        Org {
            id: id.into(),
            name: id.to_uppercase(),
            slug: slug.into(),
            role: "owner".into(),
        }
    }

    fn app(id: &str, is_default: bool) -> Application {
        Application {
            id: id.into(),
            name: format!("n{id}"),
            is_default,
        }
    }

    #[test]
    fn org_resolution() {
        let orgs = [org("o1", "acme"), org("o2", "beta")];
        assert_eq!(resolve_org_ref(&orgs, " acme ").unwrap().id, "o1");
        assert_eq!(resolve_org_ref(&orgs, "o2").unwrap().id, "o2");
        assert_eq!(
            resolve_org_ref(&orgs, " ").unwrap_err().to_string(),
            "Org reference is empty."
        );
        assert!(
            resolve_org_ref(&[], "x")
                .unwrap_err()
                .to_string()
                .starts_with("No organizations found")
        );
        assert_eq!(
            resolve_org_ref(&orgs, "zz").unwrap_err().to_string(),
            "No organization matches \"zz\". Available:\n  - acme (o1)\n  - beta (o2)"
        );
    }

    #[test]
    fn app_resolution_and_default() {
        let apps = [app("a1", false), app("a2", true)];
        assert_eq!(resolve_app_ref(&apps, "a1").unwrap().id, "a1");
        assert!(
            resolve_app_ref(&apps, "na1").is_err(),
            "names do not match, ids only"
        );
        assert_eq!(
            resolve_app_ref(&apps, "x").unwrap_err().to_string(),
            "No application matches \"x\". Available:\n  - na1 (a1)\n  - na2 (a2) [default]"
        );
        assert_eq!(default_application(&apps).unwrap().id, "a2");
        assert_eq!(default_application(&[app("a", false)]).unwrap().id, "a");
        assert!(default_application(&[app("a", false), app("b", false)]).is_none());
        assert!(default_application(&[]).is_none());
    }
}
