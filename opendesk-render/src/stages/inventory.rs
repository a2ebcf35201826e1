//! Inventory stage: what each release renders. Feeds `render-meta.yaml` (each release's
//! container images) and the guards (which workloads run which images).
//!
//! Per release (sorted by name): every resource in input order (`apiVersion`, kind,
//! namespace as written, name, source file and line, whether it has a pod spec and its
//! containers' images), the container images of its workloads (containers, initContainers and
//! ephemeralContainers of pod specs; sorted, unique) and counts by kind. Totals across
//! releases as well. Taken after dedup and before ESO, so the counts are what the charts
//! render (Secrets as Secrets); render-meta's `kinds` counts what is written.

use super::{containers, ContainerList};
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
    /// It has a pod spec (a workload: Pod, Deployment, CronJob, …).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub workload: bool,
    /// Each container's image as written, in the order [`containers`] visits them (a
    /// container without a string `image` is left out).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<ContainerImage>,
}

impl ResourceEntry {
    /// `Kind/namespace/name`, as [`crate::ResourceId`] prints it (`-` for no namespace).
    pub fn resource(&self) -> String {
        let ns = if self.namespace.is_empty() { "-" } else { &self.namespace };
        format!("{}/{}/{}", self.kind, ns, self.name)
    }

    /// `release/file:line`, as [`crate::Origin`] prints it.
    pub fn origin(&self, release: &str) -> String {
        format!("{release}/{}:{}", self.source, self.line)
    }
}

/// One container's image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerImage {
    /// The pod spec list the container is in.
    pub list: ContainerList,
    /// The `image` text.
    pub image: String,
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
        let cs = containers(d);
        let images: Vec<ContainerImage> = cs
            .iter()
            .filter_map(|c| {
                let image = c.node.get("image").and_then(Node::scalar_text)?;
                Some(ContainerImage { list: c.list, image: image.to_string() })
            })
            .collect();
        for i in images.iter().filter(|i| !i.image.trim().is_empty()) {
            all_images.insert(i.image.clone());
            imgs.insert(i.image.clone());
        }
        r.resources.push(ResourceEntry {
            api_version: d.api_version().unwrap_or("").to_string(),
            kind,
            namespace: d.namespace().unwrap_or("").to_string(),
            name: d.name().unwrap_or("").to_string(),
            source: d.origin.file.to_string(),
            line: d.origin.line,
            workload: super::pod_spec_path(d).is_some(),
            containers: images,
        });
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

/// The `inventory` stage ([`inventory`]): render-meta's per-release images and the guards'
/// facts come from it.
pub struct InventoryStage;

impl crate::pipeline::Stage for InventoryStage {
    fn name(&self) -> &'static str {
        "inventory"
    }

    fn label(&self) -> &'static str {
        "taking inventory"
    }

    fn run(
        &self,
        cx: &mut crate::pipeline::RenderContext<'_>,
    ) -> Result<Vec<crate::report::Finding>, crate::pipeline::RenderError> {
        cx.inventory = inventory(&cx.docs, cx.cfg);
        Ok(Vec::new())
    }
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
