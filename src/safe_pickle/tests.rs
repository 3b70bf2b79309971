use super::build::is_utf8_surrogatepass;
use super::decode::truncated;
use super::walk::FLOAT_JSON_LEN;
use super::*;
use crate::json;

/// A Python-like rendering of a decoded pickle, after the same checks `loads` makes.
fn read(data: &[u8]) -> Res<String> {
    let (graph, _) = judge(data)?;
    Ok(render(data, &graph.nodes, graph.root))
}

fn render(data: &[u8], nodes: &[Node], id: Id) -> String {
    let join = |kids: &[Id], sep: &str| -> Vec<String> {
        let items: Vec<String> = kids.iter().map(|&k| render(data, nodes, k)).collect();
        items
            .chunks(if sep.is_empty() { 1 } else { 2 })
            .map(|c| c.join(sep))
            .collect()
    };
    match &nodes[id] {
        Node::None => "None".into(),
        Node::Bool(b) => if *b { "True" } else { "False" }.into(),
        Node::Int(n) => n.to_string(),
        Node::Long(r) => format!("long{:?}", &data[r.clone()]),
        Node::Float(x) => format!("{x:?}"),
        Node::Str(r) => format!("'{}'", String::from_utf8_lossy(&data[r.clone()])),
        Node::List(kids) => format!("[{}]", join(kids, "").join(", ")),
        Node::Tuple(kids) => format!("({})", join(kids, "").join(", ")),
        Node::Dict(kids) => format!("{{{}}}", join(kids, ": ").join(", ")),
    }
}

fn refused(data: &[u8]) -> String {
    read(data).expect_err("should be refused")
}

#[test]
fn reads_a_protocol_2_session_tuple() {
    // pickle.dumps((1.5, 7, {'user': 'alice'}), 2)
    let p = b"\x80\x02G?\xf8\x00\x00\x00\x00\x00\x00K\x07}q\x00X\x04\x00\x00\x00userq\x01X\x05\x00\x00\x00aliceq\x02s\x87q\x03.";
    assert_eq!(read(p).unwrap(), "(1.5, 7, {'user': 'alice'})");
}

#[test]
fn reads_a_protocol_5_pickle_with_frame_memo_and_shared_list() {
    // x = [1, 2]; pickle.dumps({'a': x, 'b': x, 'n': None, 't': True}, 5)
    let p = b"\x80\x05\x95!\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x01a\x94]\x94(K\x01K\x02e\x8c\x01b\x94h\x02\x8c\x01n\x94N\x8c\x01t\x94\x88u.";
    assert_eq!(
        read(p).unwrap(),
        "{'a': [1, 2], 'b': [1, 2], 'n': None, 't': True}"
    );
}

#[test]
fn reads_ints_of_every_width() {
    // pickle.dumps([-1, 255, 65535, 2**40, -(2**70)], 4)
    let p = b"\x80\x04\x95\"\x00\x00\x00\x00\x00\x00\x00]\x94(J\xff\xff\xff\xffK\xffM\xff\xff\x8a\x06\x00\x00\x00\x00\x00\x01\x8a\t\x00\x00\x00\x00\x00\x00\x00\x00\xc0e.";
    assert_eq!(
        read(p).unwrap(),
        "[-1, 255, 65535, long[0, 0, 0, 0, 0, 1], long[0, 0, 0, 0, 0, 0, 0, 0, 192]]"
    );
}

#[test]
fn appends_to_a_memoized_list_show_through_every_reference() {
    // L = []; (L, L) with 1 appended to L after both references are on the stack.
    let p = b"\x80\x02]q\x00h\x00K\x01a\x86.";
    assert_eq!(read(p).unwrap(), "([1], [1])");
}

#[test]
fn refuses_globals_and_object_opcodes() {
    // pickle.dumps(os.system, 2) and pickle.dumps(set(), 4) and friends.
    let cases: &[(&[u8], &str)] = &[
        (b"\x80\x02cposix\nsystem\nq\x00.", "GLOBAL"),
        (
            b"\x80\x04\x8c\x08builtins\x8c\x03set\x93)R.",
            "STACK_GLOBAL",
        ),
        (b"\x80\x02)R.", "REDUCE"),
        (b"\x80\x02}}b.", "BUILD"),
        (b"\x80\x02(i__main__\nC\n.", "INST"),
        (b"\x80\x02()o.", "OBJ"),
        (b"\x80\x02)\x81.", "NEWOBJ"),
        (b"\x80\x04\x8f\x94.", "EMPTY_SET"),
        (b"\x80\x04(\x91.", "FROZENSET"),
        (b"\x80\x03C\x01x.", "SHORT_BINBYTES"),
        (
            b"\x80\x05\x96\x00\x00\x00\x00\x00\x00\x00\x00.",
            "BYTEARRAY8",
        ),
        (b"\x80\x02X\x01\x00\x00\x00xQ.", "BINPERSID"),
        (b"\x80\x02\x82\x01.", "EXT1"),
        (b"\x80\x02I1\n.", "INT"),
        (b"\x80\x02U\x01x.", "SHORT_BINSTRING"),
    ];
    for (p, name) in cases {
        assert_eq!(
            refused(p),
            format!("pickle opcode {name} refused: only plain data is read")
        );
    }
    assert_eq!(refused(b"\x80\x02\xff."), "unknown pickle opcode 0xff");
}

#[test]
fn refuses_what_pickle_refuses_even_when_it_is_discarded() {
    // Found by the safe_pickle_loads fuzz target: a str that is not UTF-8 and a dict with a
    // list key, each popped before STOP, so never part of the result.
    assert!(refused(b"\x80\x05\x8c\x02\x80\x030N.").contains("not UTF-8"));
    assert!(refused(b"\x80\x05}]Ns0N.").contains("dict key of type list"));
    // Lone surrogates are what pickle writes for them: read, as pickle.loads does.
    assert!(is_utf8_surrogatepass(b"a\xed\xa0\x80b"));
    assert!(!is_utf8_surrogatepass(b"a\xed\xa0"));
}

#[test]
fn refuses_non_str_dict_keys() {
    // pickle.dumps({1: 2}, 2)
    let err = refused(b"\x80\x02}q\x00K\x01K\x02s.");
    assert_eq!(err, "dict key of type int refused: only str keys are read");
    assert!(refused(b"\x80\x02})K\x02s.").contains("type tuple"));
}

#[test]
fn refuses_what_is_not_one_whole_pickle() {
    let p = b"\x80\x02K\x01.";
    for end in 0..p.len() {
        assert!(read(&p[..end]).is_err(), "prefix of {end} bytes read");
    }
    assert_eq!(
        refused(b"\x80\x02K\x01.x"),
        "bytes after the end of the pickle"
    );
    assert_eq!(
        refused(b"\x80\x02K\x01K\x02."),
        "pickle left items on its stack at STOP"
    );
    assert_eq!(
        refused(b"\x80\x02(K\x01."),
        "pickle left items on its stack at STOP"
    );
    assert!(refused(b"\x80\x01K\x01.").contains("protocol 1"));
    assert!(refused(b"{}").contains("no PROTO"));
}

#[test]
fn huge_length_prefixes_are_refused_without_allocating() {
    assert_eq!(
        refused(b"\x80\x04\x8d\xff\xff\xff\xff\xff\xff\xff\xffx."),
        truncated()
    );
    assert_eq!(refused(b"\x80\x04X\xff\xff\xff\xffx."), truncated());
    assert_eq!(
        refused(b"\x80\x04\x95\xff\xff\xff\xff\x00\x00\x00\x00N."),
        truncated()
    );
    assert!(refused(b"\x80\x02\x8b\xff\xff\xff\x7f.").contains("over 1024 bytes"));
    assert!(refused(b"\x80\x02\x8b\xff\xff\xff\xff.").contains("over 1024 bytes"));
    assert!(refused(b"\x80\x02Nr\xff\xff\xff\xff.").contains("memo index"));
    assert!(refused(b"\x80\x02j\x05\x00\x00\x00.").contains("memo index 5 not set"));
}

#[test]
fn refuses_stack_misuse() {
    assert!(refused(b"\x80\x02\x85.").contains("too few items"));
    assert!(refused(b"\x80\x02]K\x01(a.").contains("too few items"));
    assert!(refused(b"\x80\x02)K\x01a.").contains("APPEND on a tuple refused"));
    assert!(refused(b"\x80\x02]K\x01K\x02s.").contains("SETITEM on a list refused"));
    assert!(refused(b"\x80\x02}(K\x01u.").contains("key without a value"));
    assert!(refused(b"\x80\x02t.").contains("found no MARK"));
    assert!(refused(b"\x80\x02.").contains("too few items"));
}

#[test]
fn refuses_cycles() {
    // L = []; L.append(L)
    assert!(refused(b"\x80\x02]q\x00h\x00a.").contains("list that contains itself"));
    // D = {}; D['d'] = [D]
    let p = b"\x80\x02}q\x00X\x01\x00\x00\x00d]h\x00as.";
    assert!(refused(p).contains("dict that contains itself"));
}

#[test]
fn nesting_is_bounded_without_recursion() {
    let nested = |n: usize| [&b"\x80\x02"[..], &vec![b']'; n], &vec![b'a'; n - 1], b"."].concat();
    assert!(read(&nested(MAX_DEPTH)).is_ok());
    assert_eq!(refused(&nested(MAX_DEPTH + 1)), too_deep());
    assert_eq!(refused(&nested(100_000)), too_deep());
    let tuples = [&b"\x80\x02)"[..], &vec![0x85; 100_000], b"."].concat();
    assert_eq!(refused(&tuples), too_deep());
    let marks = [&b"\x80\x02"[..], &vec![b'('; 100_000]].concat();
    assert_eq!(refused(&marks), too_deep());
}

#[test]
fn a_shallow_reference_to_a_deep_subtree_counts_its_full_depth() {
    // (deep, [[deep]]): deep is first walked on a short path, then shared two levels lower.
    let n = MAX_DEPTH - 2;
    let p = [
        &b"\x80\x02"[..],
        &vec![b']'; n],
        &vec![b'a'; n - 1],
        b"q\x00]]h\x00aa\x86.",
    ]
    .concat();
    assert_eq!(refused(&p), too_deep());
}

/// x0 = [] ; x(k+1) = [xk, xk], `levels` times: 2**levels empty lists once copied out.
fn doubled(levels: u8) -> Vec<u8> {
    let mut p = b"\x80\x02]q\x000".to_vec();
    for k in 0..levels {
        p.extend_from_slice(&[b'(', b'h', k, b'h', k, b'l', b'q', k + 1, b'0']);
    }
    p.extend_from_slice(&[b'h', levels, b'.']);
    p
}

#[test]
fn shared_references_are_read_in_linear_time() {
    let p = doubled(12);
    let (graph, walk) = judge(&p).unwrap();
    assert_eq!(walk.order.len(), 13);
    assert_eq!(graph.nodes.len(), 13);
    // [] is 2 bytes, and each level doubles it and adds 3: 5 * 2**k - 3 bytes.
    assert_eq!(walk.json_len, 5 * (1 << 12) - 3);
}

#[test]
fn shared_references_that_expand_far_beyond_a_cookie_are_refused() {
    // The example: 40 levels, 2**40 empty lists, from a few hundred bytes.
    for levels in [14, 40, 60, 98] {
        let p = doubled(levels);
        let err = refused(&p);
        assert!(err.contains("expand to over"), "{err}");
        assert!(err.contains(&max_json_len(p.len()).to_string()), "{err}");
    }
    // DUP copies a reference too: ( [ 2 2 2 ... e, 2**k times by nesting.
    let mut p = b"\x80\x02".to_vec();
    for _ in 0..50 {
        p.extend_from_slice(b"(");
    }
    p.extend_from_slice(b"]");
    for _ in 0..50 {
        p.extend_from_slice(b"2l");
    }
    p.extend_from_slice(b".");
    assert!(refused(&p).contains("expand to over"));
}

#[test]
fn a_pickle_without_shared_references_is_never_refused_for_its_size() {
    // The costliest bytes: str text that JSON escapes six to one, and NEWFALSE (`false,`).
    let n = 200_000;
    let mut p = b"\x80\x04]\x94(X".to_vec();
    p.extend_from_slice(&(n as u32).to_le_bytes());
    p.extend_from_slice(&vec![1; n]);
    p.extend_from_slice(&vec![0x89; n]);
    p.extend_from_slice(b"e.");
    let bound = json_len_bound(&p).unwrap();
    assert_eq!(bound, 2 + 6 * n + 2 + 6 * n);
    assert!(bound <= JSON_PER_BYTE * p.len());
}

#[test]
fn the_json_length_bound_is_what_dumps_writes() {
    Python::initialize();
    Python::attach(|py| {
        let cases: &[&[u8]] = &[
            // pickle.dumps((1.5, 7, {'user': 'alice'}), 2)
            b"\x80\x02G?\xf8\x00\x00\x00\x00\x00\x00K\x07}q\x00X\x04\x00\x00\x00userq\x01X\x05\x00\x00\x00aliceq\x02s\x87q\x03.",
            // {'a': x, 'b': x, 'n': None, 't': True} with x = [1, 2] shared
            b"\x80\x05\x95!\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x01a\x94]\x94(K\x01K\x02e\x8c\x01b\x94h\x02\x8c\x01n\x94N\x8c\x01t\x94\x88u.",
            // ['\x00"\\é\ud800', -1, 65535, False, ()]
            b"\x80\x02]q\x00(X\x08\x00\x00\x00\x00\"\\\xc3\xa9\xed\xa0\x80J\xff\xff\xff\xffM\xff\xff\x89)e.",
        ];
        for p in cases {
            let value = loads(py, p).unwrap();
            let written = json::dumps(&value).unwrap().len();
            let bound = json_len_bound(p).unwrap();
            // Exact but for floats, counted at their longest.
            assert!(
                written <= bound && bound <= written + FLOAT_JSON_LEN,
                "{p:?}"
            );
        }
    })
}

#[test]
fn every_opcode_that_builds_a_dict_applies_the_str_key_rule() {
    // From the issue: pickle of (t, t, {(): 2}), the key set by DICT.
    let t = b"G\x41\xd9\x4c\xe8\x00\x00\x00\x00";
    let p = [&b"\x80\x02("[..], t, t, b"()K\x02dt."].concat();
    assert_eq!(
        refused(&p),
        "dict key of type tuple refused: only str keys are read"
    );
    // Found by the safe_pickle_loads fuzz target: an unhashable key, by DICT.
    assert!(refused(b"\x80\x02(}K\x01d.").contains("dict key of type dict"));
    for (key, kind) in [
        (&b"K\x01"[..], "int"),
        (b"N", "None"),
        (b"\x88", "bool"),
        (b"G\x3f\xf0\x00\x00\x00\x00\x00\x00", "float"),
        (b"]", "list"),
        (b")", "tuple"),
    ] {
        for how in [&b"(%K\x02d."[..], b"}%K\x02s.", b"}(%K\x02u."] {
            let at = how.iter().position(|&b| b == b'%').unwrap();
            let p = [&b"\x80\x02"[..], &how[..at], key, &how[at + 1..]].concat();
            assert_eq!(
                refused(&p),
                format!("dict key of type {kind} refused: only str keys are read")
            );
        }
    }
    assert_eq!(
        read(b"\x80\x02(X\x01\x00\x00\x00kK\x02d.").unwrap(),
        "{'k': 2}"
    );
}
