//! A resource's relations drawn as a small SVG on the server: what points to it on the left,
//! the resource in the middle, what it points to on the right.

use cairn_catalog::ResourceView;
use maud::{Markup, html};

use crate::text::clip;

const NODE_WIDTH: i64 = 210;
const NODE_HEIGHT: i64 = 38;
const ROW: i64 = 50;
const WIDTH: i64 = 760;
const LEFT_X: i64 = 10;
const CENTER_X: i64 = (WIDTH - NODE_WIDTH) / 2;
const RIGHT_X: i64 = WIDTH - NODE_WIDTH - 10;
/// Nodes drawn per side; the list below the graph has them all.
const MAX_PER_SIDE: usize = 8;

struct Node<'a> {
    id: i64,
    name: &'a str,
    kind: &'a str,
    relation: &'a str,
}

fn side_y(index: usize, count: usize, height: i64) -> i64 {
    let count = i64::try_from(count.max(1)).unwrap_or(1);
    let index = i64::try_from(index).unwrap_or(0);
    let top = (height - count * ROW) / 2;
    top + index * ROW + (ROW - NODE_HEIGHT) / 2
}

fn node_box(x: i64, y: i64, kind: &str, name: &str, relation: Option<&str>) -> Markup {
    html! {
        rect class={"node node-" (kind)} x=(x) y=(y) width=(NODE_WIDTH) height=(NODE_HEIGHT) rx="7" {}
        text class="node-name" x=(x + 12) y=(y + 16) { (clip(name, 26)) }
        text class="node-sub" x=(x + 12) y=(y + 30) {
            (kind) @if let Some(relation) = relation { " · " (relation.replace('_', " ")) }
        }
    }
}

/// The graph, or `None` when the resource has no relations.
pub fn relations_svg(resource: &ResourceView) -> Option<Markup> {
    let relations = resource.relations.as_ref()?;
    if relations.is_empty() {
        return None;
    }
    let mut incoming = Vec::new();
    let mut outgoing = Vec::new();
    for relation in relations {
        let node = Node {
            id: relation.id,
            name: &relation.name,
            kind: relation.resource_kind.as_str(),
            relation: &relation.kind,
        };
        if relation.direction == "out" {
            outgoing.push(node);
        } else {
            incoming.push(node);
        }
    }
    let hidden_in = incoming.len().saturating_sub(MAX_PER_SIDE);
    let hidden_out = outgoing.len().saturating_sub(MAX_PER_SIDE);
    incoming.truncate(MAX_PER_SIDE);
    outgoing.truncate(MAX_PER_SIDE);
    let rows = incoming.len().max(outgoing.len()).max(1);
    let height = i64::try_from(rows).unwrap_or(1) * ROW + 36;
    let center_y = (height - NODE_HEIGHT) / 2;
    let center_mid = center_y + NODE_HEIGHT / 2;
    let label = format!(
        "Relations of {}: {} pointing to it, {} it points to",
        resource.name,
        incoming.len() + hidden_in,
        outgoing.len() + hidden_out
    );
    Some(html! {
        svg class="graph" viewBox={"0 0 " (WIDTH) " " (height)} role="group" aria-label=(label)
            preserveAspectRatio="xMidYMin meet" {
            defs {
                marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse" {
                    path class="arrow-head" d="M0 0L10 5L0 10z" {}
                }
            }
            @for (index, node) in incoming.iter().enumerate() {
                @let y = side_y(index, incoming.len(), height);
                @let mid = y + NODE_HEIGHT / 2;
                path class={"edge edge-" (node.relation)} marker-end="url(#arrow)"
                    d={"M" (LEFT_X + NODE_WIDTH) " " (mid) " C" (LEFT_X + NODE_WIDTH + 40) " " (mid) " " (CENTER_X - 40) " " (center_mid) " " (CENTER_X - 2) " " (center_mid)} {}
            }
            @for (index, node) in outgoing.iter().enumerate() {
                @let y = side_y(index, outgoing.len(), height);
                @let mid = y + NODE_HEIGHT / 2;
                path class={"edge edge-" (node.relation)} marker-end="url(#arrow)"
                    d={"M" (CENTER_X + NODE_WIDTH) " " (center_mid) " C" (CENTER_X + NODE_WIDTH + 40) " " (center_mid) " " (RIGHT_X - 40) " " (mid) " " (RIGHT_X - 2) " " (mid)} {}
            }
            @for (index, node) in incoming.iter().enumerate() {
                a href={"/resources/" (node.id)} {
                    (node_box(LEFT_X, side_y(index, incoming.len(), height), node.kind, node.name, Some(node.relation)))
                }
            }
            g class="center" {
                title { (resource.path) }
                (node_box(CENTER_X, center_y, resource.kind.as_str(), &resource.name, None))
            }
            @for (index, node) in outgoing.iter().enumerate() {
                a href={"/resources/" (node.id)} {
                    (node_box(RIGHT_X, side_y(index, outgoing.len(), height), node.kind, node.name, Some(node.relation)))
                }
            }
            @if hidden_in > 0 {
                text class="node-sub" x=(LEFT_X) y=(height - 6) { "+" (hidden_in) " more in the list below" }
            }
            @if hidden_out > 0 {
                text class="node-sub" x=(RIGHT_X) y=(height - 6) { "+" (hidden_out) " more in the list below" }
            }
            text class="axis" x=(LEFT_X) y="14" { @if !incoming.is_empty() { "Points here" } }
            text class="axis" x=(RIGHT_X) y="14" { @if !outgoing.is_empty() { "Points to" } }
        }
    })
}
