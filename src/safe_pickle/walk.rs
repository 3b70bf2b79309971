//! The second pass: a walk over the graph, without recursion, that judges it (cycles, depth,
//! the JSON it would expand to) and orders the nodes children first for `build`.

use super::{filled, room, too_deep, Id, Node, Res, MAX_DEPTH};
use crate::json;

/// What the walk over the graph found.
pub(super) struct Walk {
    /// The nodes reachable from the root, each after its children.
    pub(super) order: Vec<Id>,
    /// The most bytes `json::dumps` writes for the root.
    pub(super) json_len: usize,
}

/// The longest text ryu writes for an f64 (`-2.2250738585072014e-308`).
pub(super) const FLOAT_JSON_LEN: usize = 24;

/// Bytes `json::dumps` writes for the node itself, its children aside (an upper bound for ints
/// beyond i64 and for floats; exact for the rest).
fn own_json_len(data: &[u8], node: &Node) -> usize {
    match node {
        Node::None | Node::Bool(true) => 4,
        Node::Bool(false) => 5,
        Node::Int(n) => itoa::Buffer::new().format(*n).len(),
        // n bytes hold a magnitude under 2**(8n): under 8n * 0.30103 + 1 digits, and a sign.
        Node::Long(bytes) => bytes.len() * 8 * 30103 / 100_000 + 2,
        Node::Float(_) => FLOAT_JSON_LEN,
        Node::Str(text) => json::escaped_len(&data[text.clone()]),
        // Brackets and commas.
        Node::List(kids) | Node::Tuple(kids) => 2 + kids.len().saturating_sub(1),
        // Braces, a colon per pair and commas.
        Node::Dict(kids) => 2 + kids.len() / 2 + (kids.len() / 2).saturating_sub(1),
    }
}

/// Walks the graph from `root` without recursion: refuses cycles, nesting deeper than
/// `MAX_DEPTH`, and a result that would expand to more than `max_json` bytes of JSON; lists
/// the nodes children first.
pub(super) fn children_first(data: &[u8], nodes: &[Node], root: Id, max_json: usize) -> Res<Walk> {
    // Height in nodes, and JSON length, of each finished subtree; a node is on the path while
    // open.
    let mut height: Vec<Option<usize>> = filled(nodes.len(), None)?;
    let mut json_len: Vec<usize> = filled(nodes.len(), 0)?;
    let mut open = filled(nodes.len(), false)?;
    let mut order = Vec::new();
    let mut path = vec![(root, 0)];
    open[root] = true;
    while let Some(&(id, next)) = path.last() {
        let kids = nodes[id].children();
        if let Some(&kid) = kids.get(next) {
            let last = path.len() - 1;
            path[last].1 += 1;
            if height[kid].is_some() {
                continue;
            }
            if open[kid] {
                return Err(format!(
                    "pickled {} that contains itself refused",
                    nodes[kid].kind()
                ));
            }
            if path.len() >= MAX_DEPTH {
                return Err(too_deep());
            }
            open[kid] = true;
            path.push((kid, 0));
            continue;
        }
        path.pop();
        open[id] = false;
        // A subtree first met on a short path may be shared into a deeper spot too.
        let h = 1 + kids.iter().filter_map(|&k| height[k]).max().unwrap_or(0);
        if h > MAX_DEPTH {
            return Err(too_deep());
        }
        // Every reference counts in full: that is what copying the value out costs.
        let len = kids.iter().fold(own_json_len(data, &nodes[id]), |sum, &k| {
            sum.saturating_add(json_len[k])
        });
        if len > max_json {
            return Err(format!(
                "pickle refused: its shared references expand to over {max_json} bytes of JSON"
            ));
        }
        height[id] = Some(h);
        json_len[id] = len;
        room(&mut order, 1)?;
        order.push(id);
    }
    Ok(Walk {
        order,
        json_len: json_len[root],
    })
}
