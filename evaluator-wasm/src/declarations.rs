//! The package's TypeScript declarations (`npm/types.d.ts`), generated from the Rust types by
//! ts-rs: every type the API takes or answers and, recursively, every type those refer to; and
//! those of the `authoring` feature's `review` and `windows` (`npm/authoring.d.ts`: the types
//! `types.d.ts` does not declare already). The binding includes the files in the wasm-bindgen output; the
//! tests below fail when a checked-in file is not what the types generate (`UPDATE_TYPES=1`
//! rewrites them).

use std::collections::HashMap;
use std::path::Path;

use promoseal_authoring::{Interval, Review, ReviewInput, WindowsInput};
use promoseal_evaluator::seal::GrantClaims;
use promoseal_evaluator::{Evaluation, EvaluationInput, Unlock};
use ts_rs::{Config, TypeVisitor, TS};

use crate::api::{
    AcceptedVersion, Bytes, EvaluateOptions, GrantOptions, OpenOptions, Outcome, RootInfo,
};

const HEADER: &str = "\
// Generated from the Rust types (evaluator-wasm/src/declarations.rs): do not edit. After a
// change to the types: UPDATE_TYPES=1 cargo test -p promoseal-evaluator-wasm declarations
";

/// Widest line of a type written on one line.
const WIDTH: usize = 100;

const AUTHORING_HEADER: &str = "\
// Generated from the Rust types (evaluator-wasm/src/declarations.rs): do not edit. After a
// change to the types: UPDATE_TYPES=1 cargo test -p promoseal-evaluator-wasm declarations
// The declarations of `review` and `windows`, exported by the package built with the
// `authoring` feature, beside those of types.d.ts.
";

/// The declarations, in the order a reader meets them: the answer, the arguments, the input,
/// the evaluation; each type followed by the types it refers to that are not declared yet
/// (by name: ts-rs lists a type's dependencies in no fixed order).
fn declarations() -> String {
    package().text
}

/// The declarations of `review` and `windows`: their inputs and answers, each followed by the
/// types it refers to that neither `types.d.ts` nor this file declares yet.
fn authoring_declarations() -> String {
    let mut roots = Found::new();
    roots.visit::<ReviewInput>();
    roots.visit::<Review>();
    roots.visit::<WindowsInput>();
    roots.visit::<Interval>();
    let mut out = Declarations {
        declared: package().declared,
        text: AUTHORING_HEADER.to_string(),
    };
    for root in roots.types {
        out.declare(root);
    }
    out.text
}

/// `types.d.ts`, and the names it declares.
fn package() -> Declarations {
    let mut roots = Found::new();
    roots.visit::<Outcome<()>>();
    roots.visit::<Bytes>();
    roots.visit::<OpenOptions>();
    roots.visit::<AcceptedVersion>();
    roots.visit::<RootInfo>();
    roots.visit::<EvaluateOptions>();
    roots.visit::<GrantOptions>();
    roots.visit::<GrantClaims>();
    roots.visit::<EvaluationInput>();
    roots.visit::<Evaluation>();
    roots.visit::<Unlock>();
    let mut out = Declarations {
        declared: HashMap::new(),
        text: HEADER.to_string(),
    };
    for root in roots.types {
        out.declare(root);
    }
    out
}

/// One named type: its declaration and a way to find the named types it refers to.
struct Type {
    name: String,
    docs: String,
    decl: String,
    dependencies: fn(&mut Found),
}

/// A visitor that notes the named types it is shown; ts-rs shows the type arguments of the
/// others (`Option<T>`, `Vec<T>`) itself.
struct Found {
    cfg: Config,
    types: Vec<Type>,
}

impl Found {
    fn new() -> Found {
        Found {
            cfg: Config::new().with_large_int("number"),
            types: Vec::new(),
        }
    }
}

impl TypeVisitor for Found {
    fn visit<T: TS + 'static + ?Sized>(&mut self) {
        if T::output_path().is_some() {
            self.types.push(Type {
                name: T::ident(&self.cfg),
                docs: T::docs().unwrap_or_default(),
                decl: T::decl(&self.cfg),
                dependencies: |found| T::visit_dependencies(found),
            });
        }
    }
}

struct Declarations {
    /// The declarations written so far, by name.
    declared: HashMap<String, String>,
    text: String,
}

impl Declarations {
    fn declare(&mut self, ty: Type) {
        if let Some(seen) = self.declared.get(&ty.name) {
            // A generic type again, or two Rust types declared under one name.
            assert_eq!(seen, &ty.decl, "two types are declared as `{}`", ty.name);
            return;
        }
        self.text.push('\n');
        self.text.push_str(&ty.docs);
        self.text.push_str("export ");
        self.text.push_str(&layout(&ty.decl));
        self.text.push('\n');
        self.declared.insert(ty.name, ty.decl);
        let mut found = Found::new();
        (ty.dependencies)(&mut found);
        found.types.sort_by(|a, b| a.name.cmp(&b.name));
        for dependency in found.types {
            self.declare(dependency);
        }
    }
}

/// Lays out one ts-rs declaration (`type Name = …;` on one line, field docs inside it) one
/// field a line, with objects and unions on one line where they fit and carry no docs.
fn layout(decl: &str) -> String {
    let decl = decl.trim().trim_end_matches(';');
    let Some((name, ty)) = decl.split_once(" = ") else {
        return format!("{decl};");
    };
    // What precedes the type on its line: `export type Name = `.
    let used = "export ".len() + name.len() + " = ".len();
    let alternatives = split(ty, "|");
    let width = used + flat(ty).len() + ";".len();
    if alternatives.len() > 1 && (width > WIDTH || ty.contains("/**")) {
        let lines: Vec<String> = alternatives
            .iter()
            .map(|a| format!("\n  | {}", layout_type(a, 1, "  | ".len())))
            .collect();
        return format!("{name} ={};", lines.concat());
    }
    format!("{name} = {};", layout_type(ty, 0, used))
}

/// A type expression at `depth` levels of indentation, `used` columns into its line.
fn layout_type(ty: &str, depth: usize, used: usize) -> String {
    let ty = ty.trim();
    if split(ty, "|").len() > 1 {
        return flat(ty);
    }
    let parts: Vec<String> = split(ty, "&")
        .iter()
        .map(
            |part| match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(fields) => layout_object(fields, depth, used),
                None => flat(part),
            },
        )
        .collect();
    parts.join(" & ")
}

/// An object type's fields (`a: T, /** doc */ b?: U,`), on one line when they fit.
fn layout_object(fields: &str, depth: usize, used: usize) -> String {
    let fields: Vec<&str> = split(fields, ",")
        .into_iter()
        .filter(|f| !f.is_empty())
        .collect();
    let one_line = flat(&format!("{{ {} }}", fields.join(", ")));
    // The line ends with the object and a `;`.
    let width = used + one_line.len() + ";".len();
    if !fields.iter().any(|f| f.contains("/**")) && width <= WIDTH {
        return one_line;
    }
    let indent = "  ".repeat(depth + 1);
    let mut out = String::from("{\n");
    for field in fields {
        let mut field = field;
        if let Some(rest) = field.strip_prefix("/**") {
            let (doc, after) = rest.split_once("*/").unwrap_or((rest, ""));
            out.push_str(&format!("{indent}/**\n"));
            for line in doc.lines().map(str::trim).filter(|l| !l.is_empty()) {
                out.push_str(&format!("{indent} {line}\n"));
            }
            out.push_str(&format!("{indent} */\n"));
            field = after.trim();
        }
        let (key, ty) = field.split_once(": ").unwrap_or((field, ""));
        let used = indent.len() + key.len() + ": ".len();
        out.push_str(&format!(
            "{indent}{key}: {};\n",
            layout_type(ty, depth + 1, used)
        ));
    }
    out.push_str(&"  ".repeat(depth));
    out.push('}');
    out
}

/// A type on one line: single spaces, `;` between an object's fields, no docs.
fn flat(ty: &str) -> String {
    let ty = ty.trim();
    for separator in ["|", "&"] {
        let parts = split(ty, separator);
        if parts.len() > 1 {
            let parts: Vec<String> = parts.iter().map(|p| flat(p)).collect();
            return parts.join(&format!(" {separator} "));
        }
    }
    let Some(fields) = ty.strip_prefix('{').and_then(|t| t.strip_suffix('}')) else {
        return ty.split_whitespace().collect::<Vec<_>>().join(" ");
    };
    let fields: Vec<String> = split(fields, ",")
        .iter()
        .filter(|f| !f.is_empty())
        .map(|field| {
            let field = match field.strip_prefix("/**").and_then(|r| r.split_once("*/")) {
                Some((_doc, after)) => after.trim(),
                None => field,
            };
            match field.split_once(": ") {
                Some((key, ty)) => format!("{key}: {}", flat(ty)),
                None => field.to_string(),
            }
        })
        .collect();
    if fields.is_empty() {
        return "{}".to_string();
    }
    format!("{{ {} }}", fields.join("; "))
}

/// Splits `ty` at every `separator` outside brackets, string literals and doc comments.
fn split<'a>(ty: &'a str, separator: &str) -> Vec<&'a str> {
    let mut parts = Vec::new();
    let (mut depth, mut start, mut skip_to) = (0_usize, 0, 0);
    for (i, c) in ty.char_indices() {
        if i < skip_to {
            continue;
        }
        let rest = &ty[i..];
        match c {
            '/' if rest.starts_with("/**") => {
                skip_to = i + rest.find("*/").map_or(rest.len(), |end| end + 2);
            }
            '"' => skip_to = i + 1 + rest[1..].find('"').map_or(rest.len(), |end| end + 1),
            '{' | '<' | '(' | '[' => depth += 1,
            '}' | '>' | ')' | ']' => depth = depth.saturating_sub(1),
            _ if depth == 0 && rest.starts_with(separator) => {
                parts.push(&ty[start..i]);
                start = i + separator.len();
            }
            _ => {}
        }
    }
    parts.push(&ty[start..]);
    parts.into_iter().map(str::trim).collect()
}

#[test]
fn match_the_rust_types() {
    check_file("npm/types.d.ts", &declarations());
}

#[test]
fn authoring_matches_the_rust_types() {
    check_file("npm/authoring.d.ts", &authoring_declarations());
}

/// Fails when the checked-in file is not `generated` (`UPDATE_TYPES=1` rewrites it).
fn check_file(file: &str, generated: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    if std::env::var_os("UPDATE_TYPES").is_some() {
        std::fs::write(&path, generated).unwrap();
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    if checked_in != generated {
        let line = checked_in
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| checked_in.lines().count().min(generated.lines().count()));
        panic!(
            "{} is not what the Rust types generate (first difference at line {}: {:?} but the \
             types give {:?}); rewrite it with `UPDATE_TYPES=1 cargo test -p \
             promoseal-evaluator-wasm declarations` and commit it",
            path.display(),
            line + 1,
            checked_in.lines().nth(line).unwrap_or(""),
            generated.lines().nth(line).unwrap_or(""),
        );
    }
}

/// Whether `declarations` declares the type `name`.
fn declares(declarations: &str, name: &str) -> bool {
    declarations.lines().any(|line| {
        line.strip_prefix("export type ")
            .and_then(|rest| rest.strip_prefix(name))
            .is_some_and(|rest| rest.starts_with([' ', '<']))
    })
}

#[test]
fn the_exports_name_only_declared_types() {
    let declared = declarations() + &authoring_declarations();
    let is_declared = |name: &str| declares(&declared, name);
    let source = include_str!("wasm.rs");
    for attribute in [
        "unchecked_return_type",
        "unchecked_param_type",
        "typescript_type",
    ] {
        for rest in source.split(&format!("{attribute} = \"")).skip(1) {
            let ty = rest.split('"').next().unwrap_or_default();
            let names = ty
                .split(|c: char| !c.is_ascii_alphanumeric())
                .filter(|w| w.starts_with(|c: char| c.is_ascii_uppercase()));
            for name in names {
                // The exported class and the JavaScript classes the API takes.
                let javascript = ["Engine", "Uint8Array", "ArrayBuffer"].contains(&name);
                assert!(
                    javascript || is_declared(name),
                    "`{ty}` names `{name}`, not declared"
                );
            }
        }
    }
}

#[test]
fn authoring_names_only_declared_types() {
    let declared = declarations() + &authoring_declarations();
    let authoring = authoring_declarations();
    let code = authoring
        .lines()
        .filter(|line| !line.trim_start().starts_with(['/', '*']));
    for line in code {
        let names = line
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| w.starts_with(|c: char| c.is_ascii_uppercase()));
        for name in names {
            let builtin = ["Array", "Record"].contains(&name);
            assert!(
                builtin || declares(&declared, name),
                "`{line}` names `{name}`, not declared"
            );
        }
    }
}

#[test]
fn lays_out_fields_docs_and_unions() {
    assert_eq!(
        layout("type A = { a: string, \n/**\n * Doc, with {braces} | bars.\n */\nb?: Array<B>, };"),
        "type A = {\n  a: string;\n  /**\n   * Doc, with {braces} | bars.\n   */\n  b?: Array<B>;\n};"
    );
    assert_eq!(
        layout(
            r#"type R = { "code": "x" } | { "code": "y", at: Instant, } | { "code": "z" } & S;"#
        ),
        r#"type R = { "code": "x" } | { "code": "y"; at: Instant } | { "code": "z" } & S;"#
    );
    assert_eq!(layout("type E = {  };"), "type E = {};");
}
