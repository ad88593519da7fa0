//! `{orgId}`, `{appId}` and `{profile}` in the target, replaced from the
//! profile as `gh api` replaces `{owner}` (docs/api-command.md#path-placeholders).
//! Values are percent-encoded as one path segment; an unpinned one is an error
//! naming the command that pins it.

/// What the placeholders stand for.
pub struct Pins<'a> {
    pub profile: &'a str,
    pub org_id: Option<&'a str>,
    pub app_id: Option<&'a str>,
}

/// The target with every placeholder replaced, or the first unpinned one's error.
pub fn expand(target: &str, pins: &Pins<'_>) -> Result<String, String> {
    let mut out = String::with_capacity(target.len());
    let mut rest = target;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        let Some((name, value)) = PLACEHOLDERS
            .iter()
            .find(|(name, _)| after.starts_with(name))
            .map(|(name, pick)| (*name, pick(pins)))
        else {
            out.push('{');
            rest = &after[1..];
            continue;
        };
        let value = value.map_err(|remedy| {
            format!(
                "{name} in the path needs a pinned value, but profile \"{}\" has none. Run: {remedy}",
                pins.profile
            )
        })?;
        // encodeURIComponent: an id can never add a path segment or a query.
        out.push_str(&appstrate_platform::agents::encode_component(value));
        rest = &after[name.len()..];
    }
    out.push_str(rest);
    Ok(out)
}

type Pick = for<'a> fn(&Pins<'a>) -> Result<&'a str, &'static str>;

const PLACEHOLDERS: [(&str, Pick); 3] = [
    ("{orgId}", |p| p.org_id.ok_or("appstrate org switch")),
    ("{appId}", |p| p.app_id.ok_or("appstrate app switch")),
    ("{profile}", |p| Ok(p.profile)),
];

#[cfg(test)]
mod tests {
    use super::*;

    const PINNED: Pins<'static> = Pins {
        profile: "dev team",
        org_id: Some("org_1"),
        app_id: Some("app/2"),
    };

    #[test]
    fn pinned_values_replace_their_placeholders() {
        assert_eq!(
            expand(
                "/api/orgs/{orgId}/apps/{appId}?p={profile}&x={other}",
                &PINNED
            ),
            Ok("/api/orgs/org_1/apps/app%2F2?p=dev%20team&x={other}".to_string())
        );
        assert_eq!(expand("/api/{", &PINNED), Ok("/api/{".to_string()));
    }

    #[test]
    fn an_unpinned_placeholder_names_the_command_that_pins_it() {
        let unpinned = Pins {
            profile: "default",
            org_id: None,
            app_id: None,
        };
        let err = expand("/api/applications/{appId}", &unpinned).err();
        assert_eq!(
            err.as_deref(),
            Some(
                "{appId} in the path needs a pinned value, but profile \"default\" has none. Run: appstrate app switch"
            )
        );
        assert!(expand("/x/{orgId}", &unpinned).is_err_and(|e| e.contains("appstrate org switch")));
        assert_eq!(expand("/x", &unpinned), Ok("/x".to_string()));
    }
}
