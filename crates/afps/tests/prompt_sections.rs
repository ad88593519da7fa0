//! Prompt sections the two fixture prompts do not exercise.

use appstrate_afps::archive::FileMap;
use appstrate_afps::{Bundle, ExecutionContext, Package, platform_prompt};
use serde_json::{Map, Value, json};

fn pkg(manifest: Value, extra: &[(&str, &str)]) -> Package {
    let m: Map<String, Value> = manifest.as_object().cloned().expect("object");
    let id = format!(
        "{}@{}",
        m["name"].as_str().expect("name"),
        m["version"].as_str().expect("version")
    );
    let mut files = FileMap::new();
    files.insert(
        "manifest.json".into(),
        serde_json::to_vec(&manifest).expect("json"),
    );
    for (p, c) in extra {
        files.insert((*p).into(), c.as_bytes().to_vec());
    }
    Package::from_files(id, m, files).expect("package")
}

/// The prompt from the heading `from` up to the heading `to` (or the end).
fn section<'a>(prompt: &'a str, from: &str, to: Option<&str>) -> &'a str {
    let start = prompt
        .find(from)
        .unwrap_or_else(|| panic!("no {from:?} in {prompt}"));
    let end = to
        .and_then(|to| prompt[start..].find(to))
        .map_or(prompt.len(), |i| start + i);
    &prompt[start..end]
}

fn agent_bundle() -> Bundle {
    let root = pkg(
        json!({
            "name": "@t/agent", "version": "1.0.0", "type": "agent", "timeout": 300,
            "input": {"schema": {"type": "object", "properties": {
                "topic": {"type": "string", "description": "What to write about"},
                "count": {"type": "number"},
                "doc": {"type": "string", "format": "uri", "contentMediaType": "application/pdf"},
                "docs": {"type": "array", "items": {"type": "string", "format": "uri", "contentMediaType": "text/plain"}},
                "opts": {"type": "object", "description": "Options"},
                "untyped": {"description": "No type"}
            }, "required": ["topic"]}},
            "output": {"schema": {"type": "object", "properties": {
                "summary": {"type": "string", "description": "One paragraph"},
                "score": {"type": "integer"}
            }, "required": ["summary"]}}
        }),
        &[("prompt.md", "Do {{input.topic}}.")],
    );
    let skill = pkg(
        json!({"name": "@t/skill-a", "version": "0.1.0", "type": "skill", "description": "Reads PDFs"}),
        &[("SKILL.md", "---\nname: a\n---\n")],
    );
    let skill_b = pkg(
        json!({"name": "@t/skill-b", "version": "0.1.0", "type": "skill"}),
        &[("SKILL.md", "---\nname: b\n---\n")],
    );
    let integ = pkg(
        json!({"name": "@t/integ", "version": "1.0.0", "type": "integration"}),
        &[],
    );
    let mut b = Bundle::of_one(root);
    b.packages.extend([skill, integ, skill_b]);
    b
}

#[test]
fn every_optional_section_renders_per_the_rules() {
    let b = agent_bundle();
    let mut ctx = ExecutionContext {
        run_id: "r1".into(),
        ..Default::default()
    };
    ctx.input.insert("topic".into(), json!("cats"));
    ctx.input.insert("opts".into(), json!({"a": 1}));
    ctx.input.insert("doc".into(), json!("file://x"));
    ctx.checkpoint = Some(json!({"page": 2, "ids": [1, 2]}));
    let mut slots = Map::new();
    slots.insert("zeta".into(), json!("plain text"));
    slots.insert("alpha".into(), json!({"k": true}));
    ctx.pinned_slots = Some(slots);
    ctx.memories = vec![
        json!({"content": "no date"}),
        json!({"content": "dated", "createdAt": 1700000000123u64}),
    ];
    let out = platform_prompt(&b, &ctx, "Appstrate CLI");

    assert!(out.contains("- **Timeout**: You have 300 seconds to complete this task. Work efficiently and output your result promptly.\n- **Workspace**: Your current working directory is the agent workspace. You may use the filesystem"));
    assert!(out.contains("\n### Skills\nThe following skill references are available in your workspace at `.pi/skills/`:\n\n- **@t/skill-a**: Reads PDFs\n- **@t/skill-b**\n\n## User Input\n"));
    assert!(out.contains(
        "## User Input\n\n- **topic** (string, required): What to write about — `cats`\n- **count** (number, optional): \n- **opts** (object, optional): Options — `[object Object]`\n- **untyped** (unknown, optional): No type\n\n## Checkpoint\n"
    ));
    assert!(!out.contains("**doc**"));
    assert!(out.contains("```json\n{\n  \"page\": 2,\n  \"ids\": [\n    1,\n    2\n  ]\n}\n```\n\nUse this checkpoint"));
    insta::assert_snapshot!(section(&out, "## Pinned Slots", Some("## Output Format")), @r#"
    ## Pinned Slots

    Named pinned slots (always visible across runs):

    ### alpha
    ```json
    {
      "k": true
    }
    ```

    ### zeta
    plain text

    ## Memory

    Pinned memories (always visible across runs):

    - no date
    - dated (2023-11-14T22:13:20.123Z)
    "#);
    assert!(out.contains("### Required shape\n\n- **summary** (string, required): One paragraph\n- **score** (integer, optional)\n\n### Full JSON Schema\n\n```json\n{\n  \"type\": \"object\","));
    assert!(out.ends_with("```\n\n---\n\nDo {{input.topic}}."));
}

#[test]
fn input_without_schema_lists_values_and_no_input_omits_the_section() {
    let root = pkg(
        json!({"name": "@t/a", "version": "1", "type": "agent"}),
        &[("prompt.md", "P")],
    );
    let b = Bundle::of_one(root);
    let mut ctx = ExecutionContext::default();
    assert!(!platform_prompt(&b, &ctx, "X").contains("## User Input"));
    ctx.input.insert("n".into(), json!(1.5));
    ctx.input.insert("list".into(), json!(["a", null, 2]));
    ctx.input.insert("nil".into(), Value::Null);
    let out = platform_prompt(&b, &ctx, "X");
    // The input section closes the platform's part; the agent's prompt follows.
    insta::assert_snapshot!(section(&out, "## User Input", None), @r"
    ## User Input

    - **n**: 1.5
    - **list**: a,,2
    - **nil**: null

    ---

    P
    ");
    assert!(out.contains("running on the X platform."));
    assert!(!out.contains("Timeout"));
}
