//! Inventory stage: what each release renders. Feeds `render-meta.yaml` and the guards.
//!
//! Per release (sorted by name): every resource in input order (`apiVersion`, kind,
//! namespace as written, name, source file and line), the container images of its workloads
//! (containers, initContainers and ephemeralContainers of pod specs; sorted, unique) and
//! counts by kind. Totals across releases as well.

use super::containers;
use crate::config::InstanceConfig;
use crate::document::Document;
use crate::yaml::Node;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// One resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceEntry {
    /// `group/version` (`v1` for the core group).
    pub api_version: String,
    /// Kind.
    pub kind: String,
    /// `metadata.namespace` as written (empty when unset).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Name.
    pub name: String,
    /// File inside the release folder.
    pub source: String,
    /// 1-based line of the document in that file.
    pub line: u32,
}

/// What one release renders.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseInventory {
    /// Release name.
    pub release: String,
    /// Resources in input order.
    pub resources: Vec<ResourceEntry>,
    /// Count of resources per kind.
    pub counts_by_kind: BTreeMap<String, usize>,
    /// Container images, sorted and unique.
    pub images: Vec<String>,
}

/// The inventory stage's report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Inventory {
    /// Number of resources.
    pub total: usize,
    /// Count of resources per kind across releases.
    pub counts_by_kind: BTreeMap<String, usize>,
    /// Every image across releases, sorted and unique.
    pub images: Vec<String>,
    /// Per release, sorted by release name.
    pub releases: Vec<ReleaseInventory>,
}

impl Inventory {
    /// The inventory of one release.
    pub fn release(&self, name: &str) -> Option<&ReleaseInventory> {
        self.releases.binary_search_by(|r| r.release.as_str().cmp(name)).ok().map(|i| &self.releases[i])
    }
}

/// The images of one workload document (sorted, unique).
pub fn images_of(doc: &Document) -> BTreeSet<String> {
    containers(doc)
        .iter()
        .filter_map(|c| c.node.get("image").and_then(Node::scalar_text))
        .filter(|i| !i.trim().is_empty())
        .map(str::to_string)
        .collect()
}

/// Build the inventory.
pub fn inventory(docs: &[Document], _cfg: &InstanceConfig) -> Inventory {
    let mut by_release: BTreeMap<&str, (ReleaseInventory, BTreeSet<String>)> = BTreeMap::new();
    let mut all_images = BTreeSet::new();
    let mut counts = BTreeMap::new();
    for d in docs {
        let (r, imgs) = by_release.entry(&d.origin.release).or_default();
        let kind = d.kind().unwrap_or("").to_string();
        *r.counts_by_kind.entry(kind.clone()).or_insert(0) += 1;
        *counts.entry(kind.clone()).or_insert(0) += 1;
        r.resources.push(ResourceEntry {
            api_version: d.api_version().unwrap_or("").to_string(),
            kind,
            namespace: d.namespace().unwrap_or("").to_string(),
            name: d.name().unwrap_or("").to_string(),
            source: d.origin.file.to_string(),
            line: d.origin.line,
        });
        for i in images_of(d) {
            all_images.insert(i.clone());
            imgs.insert(i);
        }
    }
    let releases = by_release
        .into_iter()
        .map(|(name, (mut r, imgs))| {
            r.release = name.to_string();
            r.images = imgs.into_iter().collect();
            r
        })
        .collect();
    Inventory { total: docs.len(), counts_by_kind: counts, images: all_images.into_iter().collect(), releases }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stages::testutil::docs;

    #[test]
    fn per_release_resources_images_and_counts() {
        let mut ds = docs(
            "redis",
            "redis/templates/sts.yaml",
            "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: redis, namespace: opendesk}\nspec:\n  template:\n    spec:\n      initContainers: [{name: i, image: busybox:1.36}]\n      containers: [{name: r, image: redis:7}, {name: m, image: exporter:1}]\n---\napiVersion: v1\nkind: Service\nmetadata: {name: redis}\n",
        );
        ds.extend(docs("ums", "nubus/templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n---\napiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec: {jobTemplate: {spec: {template: {spec: {containers: [{name: c, image: redis:7}]}}}}}\n"));
        let inv = inventory(&ds, &InstanceConfig::minimal("1.13.1"));
        assert_eq!(inv.total, 4);
        assert_eq!(inv.images, ["busybox:1.36", "exporter:1", "redis:7"]);
        assert_eq!(inv.release("ums").unwrap().images, ["redis:7"]);
        assert_eq!(inv.release("redis").unwrap().resources[1].line, 10);
        insta::assert_yaml_snapshot!("inventory", inv);
    }
}
