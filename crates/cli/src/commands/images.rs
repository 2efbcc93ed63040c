//! `vessel images`, `rmi`, `tag`, `history` and the `image` group.

use clap::Subcommand;
use serde_json::{json, Value};

use super::{each, prune};
use crate::client::{enc, filters_json, query, Client};
use crate::format::{ago, ellipsis, human_size, short_id, utc_string};
use crate::output::{print_list, Columns};
use crate::template::Format;

#[derive(clap::Args)]
pub struct ListArgs {
    /// Show all images (default hides intermediate images)
    #[arg(short = 'a', long)]
    all: bool,
    /// Only show image IDs
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    no_trunc: bool,
    /// Show digests
    #[arg(long)]
    digests: bool,
    /// Filter output based on conditions provided
    #[arg(short = 'f', long = "filter")]
    filter: Vec<String>,
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json', 'TEMPLATE'
    #[arg(long)]
    format: Option<String>,
    /// Only list images of this repository[:tag]
    reference: Option<String>,
}

#[derive(clap::Args)]
pub struct RmiArgs {
    /// Force removal of the image
    #[arg(short = 'f', long)]
    force: bool,
    /// Do not delete untagged parents
    #[arg(long = "no-prune")]
    no_prune: bool,
    #[arg(required = true)]
    images: Vec<String>,
}

#[derive(clap::Args)]
pub struct TagArgs {
    source: String,
    target: String,
}

#[derive(clap::Args)]
pub struct HistoryArgs {
    /// Print sizes and dates in human readable format
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    human: bool,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    no_trunc: bool,
    /// Only show image IDs
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Format output using a custom template
    #[arg(long)]
    format: Option<String>,
    image: String,
}

#[derive(clap::Args)]
pub struct InspectArgs {
    /// Format output using a custom template
    #[arg(short = 'f', long)]
    format: Option<String>,
    #[arg(required = true)]
    images: Vec<String>,
}

#[derive(Subcommand)]
pub enum Cmd {
    /// List images
    #[command(alias = "list")]
    Ls(ListArgs),
    /// Remove one or more images
    #[command(alias = "remove")]
    Rm(RmiArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(TagArgs),
    /// Show the history of an image
    History(HistoryArgs),
    /// Display detailed information on one or more images
    Inspect(InspectArgs),
    /// Remove unused images
    Prune(prune::ImageArgs),
    /// Load an image from a tar archive or STDIN
    Load(super::imgio::LoadArgs),
    /// Save one or more images to a tar archive
    Save(super::imgio::SaveArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(super::imgio::ImportArgs),
    /// Download an image from a registry
    Pull(super::imgio::PullArgs),
}

pub fn dispatch(c: &Client, cmd: Cmd) -> anyhow::Result<()> {
    match cmd {
        Cmd::Ls(a) => list(c, a),
        Cmd::Rm(a) => rmi(c, a),
        Cmd::Tag(a) => tag(c, a),
        Cmd::History(a) => history(c, a),
        Cmd::Inspect(a) => super::inspect::typed(c, "images", &a.images, a.format.as_deref()),
        Cmd::Prune(a) => prune::images(c, a),
        Cmd::Load(a) => super::imgio::load(c, a),
        Cmd::Save(a) => super::imgio::save(c, a),
        Cmd::Import(a) => super::imgio::import(c, a),
        Cmd::Pull(a) => super::imgio::pull(c, a),
    }
}

/// `repo[:tag]` split at the last colon after the last slash.
pub fn split_ref(r: &str) -> (String, Option<String>) {
    let name_start = r.rfind('/').map(|i| i + 1).unwrap_or(0);
    if r.contains('@') {
        return (r.to_string(), None);
    }
    match r[name_start..].rfind(':') {
        Some(i) => (
            r[..name_start + i].to_string(),
            Some(r[name_start + i + 1..].to_string()),
        ),
        None => (r.to_string(), None),
    }
}

const IMAGE_HEADERS: &[(&str, &str)] = &[
    ("Repository", "REPOSITORY"),
    ("Tag", "TAG"),
    ("ID", "IMAGE ID"),
    ("Digest", "DIGEST"),
    ("CreatedSince", "CREATED"),
    ("CreatedAt", "CREATED AT"),
    ("Size", "SIZE"),
    ("Containers", "CONTAINERS"),
    ("SharedSize", "SHARED SIZE"),
    ("UniqueSize", "UNIQUE SIZE"),
    ("VirtualSize", "VIRTUAL SIZE"),
];

pub fn list(c: &Client, a: ListArgs) -> anyhow::Result<()> {
    let mut filters = a.filter.clone();
    if let Some(r) = &a.reference {
        filters.push(format!("reference={r}"));
    }
    let filters = filters_json(&filters).map_err(anyhow::Error::msg)?;
    let path = format!(
        "/images/json{}",
        query(&[("all", super::qbool(a.all)), ("filters", filters)])
    );
    let images: Vec<Value> = c.get_json(&path)?;
    let mut rows = Vec::new();
    for img in &images {
        let id = img["Id"].as_str().unwrap_or("");
        let shown_id = if a.no_trunc {
            id.to_string()
        } else {
            short_id(id)
        };
        let created = img["Created"].as_i64().unwrap_or(0);
        let size = img["Size"].as_i64().unwrap_or(0);
        let mut tags: Vec<String> = img["RepoTags"]
            .as_array()
            .map(|t| {
                t.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        tags.retain(|t| t != "<none>:<none>");
        let digest = img["RepoDigests"][0]
            .as_str()
            .and_then(|d| d.split_once('@'))
            .map(|(_, d)| d.to_string())
            .unwrap_or_else(|| "<none>".into());
        if tags.is_empty() {
            tags.push(String::new());
        }
        for t in tags {
            let (repo, tag) = if t.is_empty() {
                ("<none>".to_string(), "<none>".to_string())
            } else {
                let (r, tg) = split_ref(&t);
                (r, tg.unwrap_or_else(|| "<none>".into()))
            };
            rows.push(json!({
                "Containers": match img["Containers"].as_i64() { Some(n) if n >= 0 => n.to_string(), _ => "N/A".into() },
                "CreatedAt": utc_string(created),
                "CreatedSince": ago(created),
                "Digest": digest,
                "ID": shown_id,
                "Repository": repo,
                "SharedSize": "N/A",
                "Size": human_size(size),
                "Tag": tag,
                "UniqueSize": "N/A",
                "VirtualSize": human_size(size),
            }));
        }
    }
    if a.quiet {
        let mut seen = Vec::new();
        for r in &rows {
            let id = r["ID"].as_str().unwrap_or("").to_string();
            if !seen.contains(&id) {
                println!("{id}");
                seen.push(id);
            }
        }
        return Ok(());
    }
    let default: &[&str] = if a.digests {
        &["Repository", "Tag", "Digest", "ID", "CreatedSince", "Size"]
    } else {
        &["Repository", "Tag", "ID", "CreatedSince", "Size"]
    };
    let cols = Columns {
        default,
        headers: IMAGE_HEADERS,
    };
    print_list(&Format::parse(a.format.as_deref())?, &cols, &rows)?;
    Ok(())
}

pub fn rmi(c: &Client, a: RmiArgs) -> anyhow::Result<()> {
    let q = query(&[
        ("force", super::qbool(a.force)),
        ("noprune", super::qbool(a.no_prune)),
    ]);
    each(
        &a.images,
        |name| -> Result<Vec<Value>, _> {
            let b = c.delete(&format!("/images/{}{q}", enc(name)))?;
            crate::client::decode("image delete", &b)
        },
        |_, items| {
            for it in items {
                if let Some(u) = it["Untagged"].as_str() {
                    println!("Untagged: {u}");
                }
                if let Some(d) = it["Deleted"].as_str() {
                    println!("Deleted: {d}");
                }
            }
        },
    )
}

pub fn tag(c: &Client, a: TagArgs) -> anyhow::Result<()> {
    let (repo, tag) = split_ref(&a.target);
    let q = query(&[
        ("repo", Some(repo)),
        ("tag", Some(tag.unwrap_or_else(|| "latest".into()))),
    ]);
    c.post(&format!("/images/{}/tag{q}", enc(&a.source)))?;
    Ok(())
}

pub fn history(c: &Client, a: HistoryArgs) -> anyhow::Result<()> {
    let layers: Vec<Value> = c.get_json(&format!("/images/{}/history", enc(&a.image)))?;
    let mut rows = Vec::new();
    for l in &layers {
        let id = l["Id"].as_str().unwrap_or("<missing>");
        let id = if id == "<missing>" || a.no_trunc {
            id.to_string()
        } else {
            short_id(id)
        };
        let created = l["Created"].as_i64().unwrap_or(0);
        let by = l["CreatedBy"].as_str().unwrap_or("").replace('\t', " ");
        let by = if a.no_trunc { by } else { ellipsis(&by, 45) };
        let size = l["Size"].as_i64().unwrap_or(0);
        rows.push(json!({
            "ID": id,
            "CreatedSince": if a.human { ago(created) } else { utc_string(created) },
            "CreatedAt": utc_string(created),
            "CreatedBy": by,
            "Size": if a.human { human_size(size) } else { size.to_string() },
            "Comment": l["Comment"].as_str().unwrap_or(""),
        }));
    }
    if a.quiet {
        for r in &rows {
            println!("{}", r["ID"].as_str().unwrap_or(""));
        }
        return Ok(());
    }
    let cols = Columns {
        default: &["ID", "CreatedSince", "CreatedBy", "Size", "Comment"],
        headers: &[
            ("ID", "IMAGE"),
            ("CreatedSince", "CREATED"),
            ("CreatedAt", "CREATED AT"),
            ("CreatedBy", "CREATED BY"),
            ("Size", "SIZE"),
            ("Comment", "COMMENT"),
        ],
    };
    print_list(&Format::parse(a.format.as_deref())?, &cols, &rows)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::split_ref;

    #[test]
    fn refs() {
        assert_eq!(split_ref("bb"), ("bb".into(), None));
        assert_eq!(split_ref("bb:v1"), ("bb".into(), Some("v1".into())));
        assert_eq!(
            split_ref("localhost:5000/x/bb"),
            ("localhost:5000/x/bb".into(), None)
        );
        assert_eq!(
            split_ref("localhost:5000/bb:2"),
            ("localhost:5000/bb".into(), Some("2".into()))
        );
    }
}
