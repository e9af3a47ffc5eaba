//! `/api/v1/docs`: the API's reference for people, one self-contained
//! HTML page rendered from the same OpenAPI document as
//! `/api/v1/openapi.json`, so the two cannot disagree. Like the document,
//! it needs no token: it describes the API and holds no data.

use axum::response::Html;
use serde_json::Value;
use std::fmt::Write as _;

/// The API reference as an HTML page.
#[utoipa::path(
    get,
    path = "/api/v1/docs",
    operation_id = "docs_page",
    tag = "server",
    responses(
        (status = 200, description = "The reference, HTML", content_type = "text/html"),
    )
)]
pub async fn page() -> Html<String> {
    Html(render(&super::openapi_document()))
}

/// Text made safe for HTML.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A schema's type, short: a link for a named schema.
fn type_of(schema: &Value) -> String {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let name = reference.rsplit('/').next().unwrap_or(reference);
        return format!("<a href=\"#schema-{0}\">{0}</a>", escape(name));
    }
    for combinator in ["oneOf", "anyOf", "allOf"] {
        if let Some(options) = schema.get(combinator).and_then(Value::as_array) {
            let parts: Vec<String> = options.iter().map(type_of).collect();
            return parts.join(if combinator == "allOf" {
                " &amp; "
            } else {
                " | "
            });
        }
    }
    let mut text = match schema.get("type") {
        Some(Value::String(kind)) if kind == "array" => {
            format!(
                "array of {}",
                schema.get("items").map(type_of).unwrap_or_default()
            )
        }
        Some(Value::String(kind)) => escape(kind),
        Some(Value::Array(kinds)) => kinds
            .iter()
            .filter_map(Value::as_str)
            .map(escape)
            .collect::<Vec<_>>()
            .join(" | "),
        _ => "any".to_string(),
    };
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        if values.len() <= 12 {
            let listed: Vec<String> = values.iter().map(|v| escape(&v.to_string())).collect();
            let _ = write!(text, ": {}", listed.join(", "));
        } else {
            let _ = write!(text, " (one of {} values)", values.len());
        }
    }
    if let Some(format) = schema.get("format").and_then(Value::as_str) {
        let _ = write!(text, " ({})", escape(format));
    }
    text
}

/// The whole page.
pub fn render(document: &Value) -> String {
    let title = document["info"]["title"].as_str().unwrap_or("API");
    let version = document["info"]["version"].as_str().unwrap_or("");
    let mut html = String::new();
    let _ = write!(
        html,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{title} {version}</title><style>\
         body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.45}}\
         code,.path{{font-family:ui-monospace,monospace}}\
         .op{{border-top:1px solid #ccc;padding:.6rem 0}}\
         .method{{display:inline-block;min-width:4.5rem;font-weight:bold;font-family:ui-monospace,monospace}}\
         table{{border-collapse:collapse;margin:.3rem 0}}td,th{{border:1px solid #ddd;padding:.2rem .5rem;text-align:left;vertical-align:top}}\
         </style></head><body>\n<h1>{title} <small>{version}</small></h1>\n",
        title = escape(title),
        version = escape(version),
    );
    if let Some(description) = document["info"]["description"].as_str() {
        let _ = writeln!(html, "<p>{}</p>", escape(description));
    }
    html.push_str(
        "<h2 id=\"authentication\">Authentication</h2>\n\
         <p>Every route but <code>GET /api/v1/health</code>, <code>POST /api/v1/login</code>, \
         this page and <code>GET /api/v1/openapi.json</code> needs \
         <code>Authorization: Bearer &lt;token&gt;</code>. A token comes from \
         <code>POST /api/v1/login</code> (a user's name and password) or \
         <code>POST /api/v1/tokens</code> (made by an admin, with a role); the first admin \
         token is written to <code>DATA_DIR/admin-token</code> on the server's first start. \
         A missing or unknown token gets <code>401</code>, a token whose role does not \
         allow the operation <code>403</code>.</p>\n\
         <p>The machine-readable document is \
         <a href=\"openapi.json\">/api/v1/openapi.json</a>.</p>\n",
    );

    // Operations, grouped by tag in the document's tag order.
    let tags: Vec<(String, String)> = document["tags"]
        .as_array()
        .map(|tags| {
            tags.iter()
                .map(|tag| {
                    (
                        tag["name"].as_str().unwrap_or("").to_string(),
                        tag["description"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let mut operations: Vec<(String, String, String, &Value)> = Vec::new();
    if let Some(paths) = document["paths"].as_object() {
        for (path, item) in paths {
            for method in ["get", "post", "put", "patch", "delete"] {
                if let Some(operation) = item.get(method) {
                    let tag = operation["tags"][0].as_str().unwrap_or("").to_string();
                    operations.push((tag, path.clone(), method.to_uppercase(), operation));
                }
            }
        }
    }
    html.push_str("<h2>Contents</h2><ul>\n");
    for (tag, description) in &tags {
        let _ = writeln!(
            html,
            "<li><a href=\"#tag-{0}\">{0}</a>: {1}</li>",
            escape(tag),
            escape(description)
        );
    }
    html.push_str("<li><a href=\"#schemas\">schemas</a></li></ul>\n");
    for (tag, description) in &tags {
        let _ = writeln!(
            html,
            "<h2 id=\"tag-{0}\">{0}</h2><p>{1}</p>",
            escape(tag),
            escape(description)
        );
        for (_, path, method, operation) in operations.iter().filter(|op| &op.0 == tag) {
            render_operation(&mut html, path, method, operation);
        }
    }

    html.push_str("<h2 id=\"schemas\">Schemas</h2>\n");
    if let Some(schemas) = document["components"]["schemas"].as_object() {
        for (name, schema) in schemas {
            let _ = writeln!(html, "<h3 id=\"schema-{0}\">{0}</h3>", escape(name));
            if let Some(description) = schema["description"].as_str() {
                let _ = writeln!(html, "<p>{}</p>", escape(description));
            }
            let required: Vec<&str> = schema["required"]
                .as_array()
                .map(|names| names.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            match schema["properties"].as_object() {
                Some(properties) => {
                    html.push_str(
                        "<table><tr><th>field</th><th>type</th><th>description</th></tr>\n",
                    );
                    for (field, property) in properties {
                        let _ = writeln!(
                            html,
                            "<tr><td><code>{}</code>{}</td><td>{}</td><td>{}</td></tr>",
                            escape(field),
                            if required.contains(&field.as_str()) {
                                " (required)"
                            } else {
                                ""
                            },
                            type_of(property),
                            escape(property["description"].as_str().unwrap_or(""))
                        );
                    }
                    html.push_str("</table>\n");
                }
                None => {
                    let _ = writeln!(html, "<p>{}</p>", type_of(schema));
                }
            }
        }
    }
    html.push_str("</body></html>\n");
    html
}

fn render_operation(html: &mut String, path: &str, method: &str, operation: &Value) {
    let _ = writeln!(
        html,
        "<div class=\"op\" id=\"{id}\"><span class=\"method\">{method}</span> \
         <span class=\"path\">{path}</span>",
        id = escape(operation["operationId"].as_str().unwrap_or("")),
        path = escape(path),
    );
    for key in ["summary", "description"] {
        if let Some(text) = operation[key].as_str() {
            let _ = writeln!(html, "<p>{}</p>", escape(text));
        }
    }
    if let Some(parameters) = operation["parameters"].as_array().filter(|p| !p.is_empty()) {
        html.push_str(
            "<table><tr><th>parameter</th><th>in</th><th>type</th><th>description</th></tr>\n",
        );
        for parameter in parameters {
            let _ = writeln!(
                html,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(parameter["name"].as_str().unwrap_or("")),
                escape(parameter["in"].as_str().unwrap_or("")),
                type_of(&parameter["schema"]),
                escape(parameter["description"].as_str().unwrap_or(""))
            );
        }
        html.push_str("</table>\n");
    }
    if let Some(content) = operation["requestBody"]["content"].as_object() {
        for (media, body) in content {
            let _ = writeln!(
                html,
                "<p>Body ({}): {}</p>",
                escape(media),
                type_of(&body["schema"])
            );
        }
    }
    if let Some(responses) = operation["responses"].as_object() {
        html.push_str("<table><tr><th>status</th><th>meaning</th><th>body</th></tr>\n");
        for (status, response) in responses {
            let body = response["content"]
                .as_object()
                .and_then(|content| content.values().next())
                .map(|media| type_of(&media["schema"]))
                .unwrap_or_default();
            let _ = writeln!(
                html,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(status),
                escape(response["description"].as_str().unwrap_or("")),
                body
            );
        }
        html.push_str("</table>\n");
    }
    html.push_str("</div>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_lists_every_operation_and_schema_escaped() {
        let document = super::super::openapi_document();
        let page = render(&document);
        let operations = document["paths"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|item| item.as_object().unwrap().values())
            .filter_map(|operation| operation["operationId"].as_str())
            .collect::<Vec<_>>();
        assert!(operations.len() > 30);
        for id in operations {
            assert!(page.contains(&format!("id=\"{id}\"")), "{id}");
        }
        for name in document["components"]["schemas"]
            .as_object()
            .unwrap()
            .keys()
        {
            assert!(page.contains(&format!("id=\"schema-{name}\"")), "{name}");
        }
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
