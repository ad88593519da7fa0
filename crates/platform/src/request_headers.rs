//! The headers of every authenticated request to the instance, decided in
//! one place for [`crate::session::Session`] (a signed-in profile) and
//! [`crate::access::PlatformAccess`] (an API key or a profile).
//!
//! The caller's own headers come first and win, except `Authorization`:
//! the bearer is always the one given here (marked sensitive, so it stays
//! out of `Debug`). `User-Agent`, the `Content-Type` of a JSON body and the
//! org/app pins are added when the caller did not set them (`logout` names
//! each org in turn with its own `X-Org-Id`).

use reqwest::header::{
    AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, USER_AGENT,
};

use crate::user_agent;

/// The organization and application a request acts in, when pinned.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pins<'a> {
    pub org_id: Option<&'a str>,
    pub application_id: Option<&'a str>,
}

/// The bearer holds a character no header value may (a damaged store or
/// a mistyped key); each caller says how to fix its own.
#[derive(Debug, PartialEq, Eq)]
pub struct InvalidBearer;

/// The request headers: `caller`'s (a name or value that is not a valid
/// header is skipped), then the identifying ones.
pub fn authenticated<'a>(
    caller: impl IntoIterator<Item = (&'a str, &'a str)>,
    bearer: &str,
    pins: Pins<'_>,
    json_body: bool,
) -> Result<HeaderMap, InvalidBearer> {
    let mut map = HeaderMap::new();
    for (name, value) in caller {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            map.append(name, value);
        }
    }
    let mut auth = HeaderValue::from_str(&format!("Bearer {bearer}")).map_err(|_| InvalidBearer)?;
    auth.set_sensitive(true);
    map.insert(AUTHORIZATION, auth);
    let defaults = [
        (USER_AGENT, Some(user_agent())),
        (
            CONTENT_TYPE,
            json_body.then(|| "application/json".to_string()),
        ),
        (
            HeaderName::from_static("x-org-id"),
            pins.org_id.map(str::to_string),
        ),
        (
            HeaderName::from_static("x-application-id"),
            pins.application_id.map(str::to_string),
        ),
    ];
    for (name, value) in defaults {
        if let Some(Ok(value)) = value.as_deref().map(HeaderValue::from_str)
            && !map.contains_key(&name)
        {
            map.insert(name, value);
        }
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pins() -> Pins<'static> {
        Pins {
            org_id: Some("org_1"),
            application_id: Some("app_1"),
        }
    }

    fn get<'m>(map: &'m HeaderMap, name: &str) -> Vec<&'m str> {
        map.get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap_or("<binary>"))
            .collect()
    }

    #[test]
    fn identifying_headers_are_added_and_the_bearer_is_sensitive() {
        let map = authenticated([], "tok", pins(), true).unwrap();
        assert_eq!(get(&map, "authorization"), ["Bearer tok"]);
        assert!(map["authorization"].is_sensitive());
        assert_eq!(get(&map, "user-agent"), [user_agent().as_str()]);
        assert_eq!(get(&map, "content-type"), ["application/json"]);
        assert_eq!(get(&map, "x-org-id"), ["org_1"]);
        assert_eq!(get(&map, "x-application-id"), ["app_1"]);
        let no_body = authenticated([], "tok", Pins::default(), false).unwrap();
        assert!(!no_body.contains_key("content-type"));
        assert!(!no_body.contains_key("x-org-id") && !no_body.contains_key("x-application-id"));
    }

    #[test]
    fn the_caller_wins_except_for_the_bearer() {
        let caller = [
            ("X-Org-Id", "org_2"),
            ("Content-Type", "text/plain"),
            ("Authorization", "Bearer someone-else"),
            ("x-forwarded", "a"),
            ("x-forwarded", "b"),
            ("bad name", "skipped"),
        ];
        let map = authenticated(caller, "tok", pins(), true).unwrap();
        assert_eq!(get(&map, "x-org-id"), ["org_2"]);
        assert_eq!(get(&map, "content-type"), ["text/plain"]);
        assert_eq!(get(&map, "authorization"), ["Bearer tok"]);
        assert_eq!(get(&map, "x-forwarded"), ["a", "b"]);
        assert_eq!(get(&map, "x-application-id"), ["app_1"]);
        assert_eq!(map.keys_len(), 6, "the bad name was skipped: {map:?}");
    }

    #[test]
    fn a_bearer_that_is_no_header_value_is_refused() {
        assert_eq!(
            authenticated([], "tok\nen", pins(), false).unwrap_err(),
            InvalidBearer
        );
    }
}
