//! The night's placed blocks, ordered by start in a B-tree so that finding the
//! free gaps of a window, a block's neighbours or its slack costs O(log n) plus
//! what is looked at, never a scan of the whole night.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use crate::EPS;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Block {
    pub start: f64,
    pub end: f64,
    /// The block must stay inside `lo..hi` (its window piece).
    pub lo: f64,
    pub hi: f64,
    /// Frozen blocks (running, done) never move.
    pub movable: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Key(f64, usize);

impl Eq for Key {}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0).then(self.1.cmp(&other.1))
    }
}

#[derive(Debug, Default)]
pub(crate) struct Timeline {
    blocks: Vec<Block>,
    order: BTreeMap<Key, usize>,
}

impl Timeline {
    pub fn insert(&mut self, b: Block) -> usize {
        let id = self.blocks.len();
        self.order.insert(Key(b.start, id), id);
        self.blocks.push(b);
        id
    }

    pub fn block(&self, id: usize) -> &Block {
        &self.blocks[id]
    }

    fn key(&self, id: usize) -> Key {
        Key(self.blocks[id].start, id)
    }

    fn prev(&self, id: usize) -> Option<usize> {
        self.order.range(..self.key(id)).next_back().map(|(_, &i)| i)
    }

    fn next(&self, id: usize) -> Option<usize> {
        self.order.range(self.key(id)..).nth(1).map(|(_, &i)| i)
    }

    /// The last block starting before `t`.
    fn before(&self, t: f64) -> Option<usize> {
        self.order.range(..Key(t, 0)).next_back().map(|(_, &i)| i)
    }

    /// The first block starting at or after `t`.
    fn at_or_after(&self, t: f64) -> Option<usize> {
        self.order.range(Key(t - EPS, 0)..).next().map(|(_, &i)| i)
    }

    /// Free intervals inside `lo..hi`, in time order; zero-length ones between
    /// two touching blocks are kept, since moves may widen them.
    pub fn gaps(&self, lo: f64, hi: f64) -> Vec<(f64, f64)> {
        let mut out = Vec::new();
        let mut cursor = lo;
        if let Some(p) = self.before(lo) {
            cursor = cursor.max(self.blocks[p].end);
        }
        for (_, &i) in self.order.range(Key(lo, 0)..Key(hi, usize::MAX)) {
            let b = &self.blocks[i];
            if b.start >= cursor - EPS && b.start <= hi {
                out.push((cursor, b.start.min(hi)));
            }
            cursor = cursor.max(b.end);
            if cursor >= hi {
                break;
            }
        }
        if cursor < hi - EPS {
            out.push((cursor, hi));
        }
        out.retain(|(a, b)| b - a > -EPS);
        out
    }

    /// How far a block can move left and right without leaving its window
    /// piece, the planning span, or touching its neighbours.
    pub fn slack(&self, id: usize, plan_start: f64, night_end: f64) -> (f64, f64) {
        let b = &self.blocks[id];
        let left_limit =
            b.lo.max(plan_start).max(self.prev(id).map_or(f64::NEG_INFINITY, |p| self.blocks[p].end));
        let right_limit =
            b.hi.min(night_end).min(self.next(id).map_or(f64::INFINITY, |n| self.blocks[n].start));
        ((b.start - left_limit).max(0.0), (right_limit - b.end).max(0.0))
    }

    fn move_by(&mut self, id: usize, delta: f64) {
        let old = self.key(id);
        self.order.remove(&old);
        let b = &mut self.blocks[id];
        b.start += delta;
        b.end += delta;
        self.order.insert(Key(b.start, id), id);
    }

    /// How far block `id` can go left (at most `need`), pushing the blocks
    /// before it when `push` is set.
    fn room_left(&self, id: usize, need: f64, push: bool) -> f64 {
        let mut total = 0.0;
        let mut cur = Some(id);
        let mut want = need;
        let mut limit = f64::INFINITY;
        while let Some(i) = cur {
            let b = &self.blocks[i];
            if !b.movable {
                break;
            }
            limit = limit.min(total + (b.start - b.lo));
            let prev = self.prev(i);
            let gap = prev.map_or(f64::INFINITY, |p| b.start - self.blocks[p].end);
            if gap >= want || !push {
                return limit.min(total + gap.min(want)).min(need);
            }
            total += gap;
            want -= gap;
            cur = prev;
        }
        limit.min(total).min(need)
    }

    fn room_right(&self, id: usize, need: f64, push: bool) -> f64 {
        let mut total = 0.0;
        let mut cur = Some(id);
        let mut want = need;
        let mut limit = f64::INFINITY;
        while let Some(i) = cur {
            let b = &self.blocks[i];
            if !b.movable {
                break;
            }
            limit = limit.min(total + (b.hi - b.end));
            let next = self.next(i);
            let gap = next.map_or(f64::INFINITY, |n| self.blocks[n].start - b.end);
            if gap >= want || !push {
                return limit.min(total + gap.min(want)).min(need);
            }
            total += gap;
            want -= gap;
            cur = next;
        }
        limit.min(total).min(need)
    }

    /// Moves block `id` left by `by`, pushing the blocks before it as far as
    /// they must go. The run is worked out first and moved farthest-first, so
    /// the order of the blocks never changes.
    fn shift_left(&mut self, id: usize, by: f64) {
        let mut run = vec![(id, by)];
        let (mut cur, mut new_start) = (id, self.blocks[id].start - by);
        while let Some(p) = self.prev(cur) {
            let d = self.blocks[p].end - new_start;
            // Rounding may leave a touch of overlap: never a reason to move a
            // block, and frozen blocks never move at all.
            if d <= EPS || !self.blocks[p].movable {
                break;
            }
            run.push((p, d));
            new_start = self.blocks[p].start - d;
            cur = p;
        }
        for (i, d) in run.into_iter().rev() {
            self.move_by(i, -d);
        }
    }

    /// Moves block `id` right by `by`, pushing the blocks after it (see `shift_left`).
    fn shift_right(&mut self, id: usize, by: f64) {
        let mut run = vec![(id, by)];
        let (mut cur, mut new_end) = (id, self.blocks[id].end + by);
        while let Some(n) = self.next(cur) {
            let d = new_end - self.blocks[n].start;
            if d <= EPS || !self.blocks[n].movable {
                break;
            }
            run.push((n, d));
            new_end = self.blocks[n].end + d;
            cur = n;
        }
        for (i, d) in run.into_iter().rev() {
            self.move_by(i, d);
        }
    }

    /// Widens the gap `a..b` (inside window piece `piece`) by `need`, moving its
    /// left neighbour, else its right one, else both, by exactly what is
    /// needed; with `push`, the neighbours may push the blocks beyond them.
    /// Returns where the new block starts.
    pub fn make_room(&mut self, a: f64, b: f64, need: f64, piece: (f64, f64), push: bool) -> Option<f64> {
        if need <= EPS {
            return Some(a);
        }
        let left =
            self.before(a - EPS).filter(|&l| (self.blocks[l].end - a).abs() < EPS && self.blocks[l].movable);
        let right =
            self.at_or_after(b).filter(|&r| (self.blocks[r].start - b).abs() < EPS && self.blocks[r].movable);
        let left_room = left.map_or(0.0, |l| self.room_left(l, need, push).min((a - piece.0).max(0.0)));
        let right_room = right.map_or(0.0, |r| self.room_right(r, need, push).min((piece.1 - b).max(0.0)));
        let (by_left, by_right) = if left_room + EPS >= need {
            (need, 0.0)
        } else if right_room + EPS >= need {
            (0.0, need)
        } else if left_room + right_room + EPS >= need {
            (left_room, need - left_room)
        } else {
            return None;
        };
        if let (Some(l), true) = (left, by_left > 0.0) {
            self.shift_left(l, by_left);
        }
        if let (Some(r), true) = (right, by_right > 0.0) {
            self.shift_right(r, by_right);
        }
        Some(a - by_left)
    }
}
