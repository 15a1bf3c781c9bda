//! The request planner: the Alfen Eve example, limits and errors, and a property test that
//! compares it with an exhaustive search on random small cases.

use std::collections::{HashSet, VecDeque};

use modbus_core::{Gaps, Limits, PlanError, Span, Table, plan, plan_with_mapped};
use proptest::prelude::*;

const HR: Table = Table::Holding;

/// Registers (address, count) of one Alfen block, as the specification lists them.
fn alfen_station() -> Vec<Span> {
    let mut regs = vec![
        (100, 17),
        (117, 5),
        (122, 1),
        (123, 17),
        (140, 17),
        (157, 11),
    ];
    regs.extend((168..=173).map(|a| (a, 1)));
    regs.extend([(174, 4), (178, 1)]);
    regs.extend([(1100, 2), (1102, 2), (1104, 1), (1105, 1)]);
    regs.extend([(1400, 4), (1404, 1)]);
    regs.extend((1405..1429).step_by(2).map(|a| (a, 2)));
    regs.extend([(1429, 2), (1431, 1)]);
    regs.into_iter()
        .map(|(a, n)| Span::new(200, HR, a, n))
        .collect()
}

fn alfen_socket(unit: u8) -> Vec<Span> {
    let mut regs = vec![(300, 1), (301, 4), (305, 1)];
    regs.extend((306..362).step_by(2).map(|a| (a, 2)));
    regs.extend((362..426).step_by(4).map(|a| (a, 4)));
    regs.extend([
        (1200, 1),
        (1201, 5),
        (1206, 2),
        (1208, 2),
        (1210, 2),
        (1212, 2),
    ]);
    regs.extend([(1214, 1), (1215, 1)]);
    regs.into_iter()
        .map(|(a, n)| Span::new(unit, HR, a, n))
        .collect()
}

#[test]
fn alfen_eve_plans_in_six_requests() {
    let mut spans = alfen_station();
    spans.extend(alfen_socket(1));
    // Sanity: the blocks the issue names.
    let covered: HashSet<(u8, u32)> = spans
        .iter()
        .flat_map(|s| (u32::from(s.address)..s.end()).map(move |a| (s.unit, a)))
        .collect();
    for (unit, lo, hi) in [
        (200, 100, 178),
        (200, 1100, 1105),
        (200, 1400, 1431),
        (1, 300, 425),
        (1, 1200, 1215),
    ] {
        assert!((lo..=hi).all(|a| covered.contains(&(unit, a))));
    }
    let limits = Limits {
        gaps: Gaps::Any,
        ..Limits::default()
    };
    let plan = plan(&spans, &limits).unwrap();
    let requests: Vec<String> = plan.requests().iter().map(ToString::to_string).collect();
    assert_eq!(
        requests,
        [
            "unit 1 FC3 holding 300×122",
            "unit 1 FC3 holding 422×4",
            "unit 1 FC3 holding 1200×16",
            "unit 200 FC3 holding 100×79",
            "unit 200 FC3 holding 1100×6",
            "unit 200 FC3 holding 1400×32",
        ]
    );
    assert_slices_match(&spans, &plan);
}

#[test]
fn alfen_eve_without_gap_spanning_still_needs_six() {
    let mut spans = alfen_station();
    spans.extend(alfen_socket(1));
    // The Alfen blocks are contiguous, so forbidding gaps changes nothing.
    let plan = plan(&spans, &Limits::default()).unwrap();
    assert_eq!(plan.len(), 6);
}

#[test]
fn units_and_tables_never_merge() {
    let spans = [
        Span::new(1, HR, 0, 2),
        Span::new(2, HR, 2, 2),
        Span::new(1, Table::Input, 2, 2),
        Span::new(1, Table::Coil, 0, 8),
        Span::new(1, Table::Discrete, 8, 8),
    ];
    let limits = Limits {
        gaps: Gaps::Any,
        ..Limits::default()
    };
    assert_eq!(plan(&spans, &limits).unwrap().len(), 5);
}

#[test]
fn duplicates_and_overlaps_are_read_once() {
    let spans = [
        Span::new(1, HR, 10, 4),
        Span::new(1, HR, 10, 4),
        Span::new(1, HR, 11, 2),
        Span::new(1, HR, 12, 4),
        Span::new(1, HR, 10, 1),
    ];
    let p = plan(&spans, &Limits::default()).unwrap();
    assert_eq!(p.len(), 1);
    assert_eq!(p.requests()[0].address, 10);
    assert_eq!(p.requests()[0].count, 6);
    assert_slices_match(&spans, &p);
}

#[test]
fn gaps_follow_the_device_rule() {
    let spans = [Span::new(1, HR, 0, 2), Span::new(1, HR, 5, 2)];
    let with = |gaps| {
        plan(
            &spans,
            &Limits {
                gaps,
                ..Limits::default()
            },
        )
        .unwrap()
        .len()
    };
    assert_eq!(with(Gaps::Never), 2);
    assert_eq!(with(Gaps::UpTo(2)), 2);
    assert_eq!(with(Gaps::UpTo(3)), 1);
    assert_eq!(with(Gaps::Any), 1);
}

#[test]
fn givenergy_pages_are_never_crossed() {
    // Registers 0..=179 on 60-register pages: three requests even though 120 would fit.
    let spans: Vec<Span> = (0..180).map(|a| Span::new(0x11, HR, a, 1)).collect();
    let limits = Limits {
        max_registers: 125,
        page_size: Some(60),
        gaps: Gaps::Any,
        ..Limits::default()
    };
    let p = plan(&spans, &limits).unwrap();
    let starts: Vec<(u16, u16)> = p.requests().iter().map(|r| (r.address, r.count)).collect();
    assert_eq!(starts, [(0, 60), (60, 60), (120, 60)]);
    let straddling = [Span::new(0x11, HR, 59, 2)];
    assert!(matches!(
        plan(&straddling, &limits),
        Err(PlanError::CrossesPage { index: 0, .. })
    ));
}

#[test]
fn bits_use_the_bit_limit() {
    let spans = [
        Span::new(1, Table::Coil, 0, 1000),
        Span::new(1, Table::Coil, 1000, 1000),
    ];
    assert_eq!(plan(&spans, &Limits::default()).unwrap().len(), 1);
    let small = Limits {
        max_bits: 1500,
        ..Limits::default()
    };
    assert_eq!(plan(&spans, &small).unwrap().len(), 2);
    let bools: Vec<Vec<bool>> = vec![(0..2000).map(|i| i % 3 == 0).collect()];
    let p = plan(&spans, &Limits::default()).unwrap();
    assert_eq!(p.slice(1, &bools).unwrap()[..3], [false, false, true]); // bits 1000..=1002
}

#[test]
fn bad_spans_and_limits_are_errors() {
    let limits = Limits::default();
    let cases = [
        (Span::new(1, HR, 0, 0), "empty"),
        (Span::new(1, HR, 65_535, 2), "past 65535"),
        (Span::new(1, HR, 0, 126), "too large"),
    ];
    for (span, why) in cases {
        assert!(plan(&[span], &limits).is_err(), "{why}");
    }
    assert!(plan(&[Span::new(1, HR, 65_535, 1)], &limits).is_ok());
    let err = plan(&[Span::new(1, HR, 0, 2), Span::new(1, HR, 0, 126)], &limits).unwrap_err();
    assert_eq!(
        err.to_string(),
        "span #1 (unit 1 holding 0..=125) is larger than the 125 items one request may read"
    );
    for bad in [
        Limits {
            max_registers: 0,
            ..limits
        },
        Limits {
            max_registers: 126,
            ..limits
        },
        Limits {
            max_bits: 2001,
            ..limits
        },
        Limits {
            page_size: Some(0),
            ..limits
        },
    ] {
        assert!(matches!(
            plan(&[], &bad),
            Err(PlanError::InvalidLimits { .. })
        ));
    }
    assert!(plan(&[], &limits).unwrap().is_empty());
}

#[test]
fn responses_are_checked() {
    let spans = [Span::new(1, HR, 0, 2), Span::new(1, HR, 200, 2)];
    let p = plan(&spans, &Limits::default()).unwrap();
    let one: Vec<Vec<u16>> = vec![vec![1, 2]];
    assert!(matches!(
        p.split(&one),
        Err(PlanError::MissingResponse { request: 1, got: 1 })
    ));
    let short: Vec<Vec<u16>> = vec![vec![1, 2], vec![3]];
    assert!(matches!(
        p.slice(1, &short),
        Err(PlanError::ResponseLength {
            request: 1,
            expected: 2,
            got: 1
        })
    ));
    let good: Vec<Vec<u16>> = vec![vec![1, 2], vec![3, 4]];
    assert!(matches!(
        p.slice(2, &good),
        Err(PlanError::NoSuchSpan { index: 2, .. })
    ));
    assert_eq!(p.split(&good).unwrap(), [&[1, 2][..], &[3, 4][..]]);
}

/// Simulated responses: each item is its own address, so slices can be checked.
fn assert_slices_match(spans: &[Span], p: &modbus_core::Plan) {
    let responses: Vec<Vec<u32>> = p
        .requests()
        .iter()
        .map(|r| (u32::from(r.address)..u32::from(r.address) + u32::from(r.count)).collect())
        .collect();
    let words = p.split(&responses).unwrap();
    for (span, got) in spans.iter().zip(words) {
        let want: Vec<u32> = (u32::from(span.address)..span.end()).collect();
        assert_eq!(got, want, "{span}");
    }
    for (span, placement) in spans.iter().zip(p.placements()) {
        let r = p.requests()[placement.request];
        assert_eq!((r.unit, r.table), (span.unit, span.table), "{span}");
    }
}

// ---- The exhaustive reference ----

/// Whether one window `[start, end)` of `unit`/`table` may be read, by the definitions alone:
/// its size, its page, and every run of addresses no span needs and none is mapped.
fn feasible(
    spans: &[Span],
    mapped: &[Span],
    limits: &Limits,
    unit: u8,
    table: Table,
    start: u32,
    end: u32,
) -> bool {
    if end <= start || end - start > u32::from(limits.max_count(table)) {
        return false;
    }
    if let Some(p) = limits.page_size
        && start / u32::from(p) != (end - 1) / u32::from(p)
    {
        return false;
    }
    let needed = |a: u32| {
        spans
            .iter()
            .chain(mapped)
            .any(|s| s.unit == unit && s.table == table && u32::from(s.address) <= a && a < s.end())
    };
    let mut run = 0u32;
    for a in start..end {
        if needed(a) {
            run = 0;
        } else {
            run += 1;
            if !limits.gaps.allows(run) {
                return false;
            }
        }
    }
    true
}

/// The minimum number of feasible windows such that every span lies inside one of them, by
/// breadth-first search over the sets of covered spans. `None` if some span fits no window.
fn exhaustive_minimum(spans: &[Span], mapped: &[Span], limits: &Limits) -> Option<usize> {
    let n = spans.len();
    // Candidate windows: from any span start to any span end of the same unit and table.
    let mut windows: Vec<u32> = Vec::new(); // bitmask of spans each window covers
    for a in spans {
        for b in spans {
            if (a.unit, a.table) != (b.unit, b.table) {
                continue;
            }
            let (start, end) = (u32::from(a.address), b.end());
            if feasible(spans, mapped, limits, a.unit, a.table, start, end) {
                let mask = spans.iter().enumerate().fold(0u32, |m, (i, s)| {
                    let inside = (s.unit, s.table) == (a.unit, a.table)
                        && start <= u32::from(s.address)
                        && s.end() <= end;
                    if inside { m | (1 << i) } else { m }
                });
                windows.push(mask);
            }
        }
    }
    let full = if n == 32 { u32::MAX } else { (1u32 << n) - 1 };
    let mut seen = HashSet::from([0u32]);
    let mut queue = VecDeque::from([(0u32, 0usize)]);
    while let Some((covered, depth)) = queue.pop_front() {
        if covered == full {
            return Some(depth);
        }
        // The lowest uncovered span must be in some window: branch on those only.
        let first = (!covered).trailing_zeros();
        for &w in windows.iter().filter(|&&w| w & (1 << first) != 0) {
            let next = covered | w;
            if seen.insert(next) {
                queue.push_back((next, depth + 1));
            }
        }
    }
    None
}

fn small_spans() -> impl Strategy<Value = Vec<Span>> {
    let span = (
        1u8..=2,
        prop::sample::select(vec![Table::Holding, Table::Input, Table::Coil]),
        0u16..48,
        1u16..=6,
    )
        .prop_map(|(unit, table, address, count)| Span::new(unit, table, address, count));
    prop::collection::vec(span, 0..=10)
}

fn small_limits() -> impl Strategy<Value = Limits> {
    (
        1u16..=16,
        1u16..=16,
        prop_oneof![
            Just(Gaps::Never),
            (0u16..4).prop_map(Gaps::UpTo),
            Just(Gaps::Any)
        ],
        prop::option::of(2u16..=20),
    )
        .prop_map(|(max_registers, max_bits, gaps, page_size)| Limits {
            max_registers,
            max_bits,
            gaps,
            page_size,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// The planner uses exactly as many requests as the exhaustive search finds necessary,
    /// every request it makes is feasible, and every span is cut back correctly.
    #[test]
    fn planner_is_optimal(spans in small_spans(), limits in small_limits()) {
        let reference = exhaustive_minimum(&spans, &[], &limits);
        match plan(&spans, &limits) {
            Err(_) => prop_assert_eq!(reference, None, "planner refused a plannable input"),
            Ok(p) => {
                prop_assert_eq!(Some(p.len()), reference);
                for r in p.requests() {
                    let (start, end) = (u32::from(r.address), u32::from(r.address) + u32::from(r.count));
                    prop_assert!(feasible(&spans, &[], &limits, r.unit, r.table, start, end), "{}", r);
                }
                assert_slices_match(&spans, &p);
            }
        }
    }

    /// The same with mapped-but-unneeded registers that requests may read through.
    #[test]
    fn planner_with_mapped_is_optimal(
        spans in small_spans(),
        mapped in small_spans(),
        limits in small_limits(),
    ) {
        let reference = exhaustive_minimum(&spans, &mapped, &limits);
        match plan_with_mapped(&spans, &mapped, &limits) {
            Err(_) => prop_assert_eq!(reference, None, "planner refused a plannable input"),
            Ok(p) => {
                prop_assert_eq!(Some(p.len()), reference);
                for r in p.requests() {
                    let (start, end) = (u32::from(r.address), u32::from(r.address) + u32::from(r.count));
                    prop_assert!(feasible(&spans, &mapped, &limits, r.unit, r.table, start, end), "{}", r);
                }
                assert_slices_match(&spans, &p);
            }
        }
    }
}

proptest! {
    /// Any spans and any limits: a plan or a typed error, never a panic; a plan always
    /// covers every span inside one feasible-sized request of the same unit and table.
    #[test]
    fn planner_is_total(
        spans in prop::collection::vec(
            (any::<u8>(), prop::sample::select(Table::ALL.to_vec()), any::<u16>(), any::<u16>())
                .prop_map(|(u, t, a, n)| Span::new(u, t, a, 1 + n % 64)),
            0..40,
        ),
        max_registers in 64u16..=125,
        max_bits in 64u16..=2000,
        gaps in prop_oneof![Just(Gaps::Never), any::<u16>().prop_map(Gaps::UpTo), Just(Gaps::Any)],
        page_size in prop::option::of(64u16..=4096),
    ) {
        let limits = Limits { max_registers, max_bits, gaps, page_size };
        let result = plan_with_mapped(&spans, &spans[spans.len() / 2..], &limits);
        // Only a span crossing a page or running past 65535 can be refused here.
        let refusable = spans.iter().any(|s| {
            s.end() > 65536
                || limits.page_size.is_some_and(|p| {
                    u32::from(s.address) / u32::from(p) != (s.end() - 1) / u32::from(p)
                })
        });
        prop_assert!(result.is_ok() || refusable, "{:?}", result);
        if let Ok(p) = result {
            for (span, placement) in spans.iter().zip(p.placements()) {
                let r = p.requests()[placement.request];
                prop_assert_eq!((r.unit, r.table), (span.unit, span.table));
                prop_assert!(r.count <= limits.max_count(r.table));
                prop_assert!(r.address <= span.address);
                prop_assert!(u32::from(r.address) + u32::from(r.count) >= span.end());
            }
            assert_slices_match(&spans, &p);
        }
    }
}
