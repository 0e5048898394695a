//! Results that arrive by callback, awaited by futures: one numbered slot per awaited result.
//!
//! The shell awaits the runtime's promises this way (`shell::tasks`): every promise reports to
//! one callback with its ticket, and the future holding the ticket finds the result in its slot.
//! Plain Rust, so the bookkeeping is tested natively; the callback and the waking are the shell's.

use std::task::Waker;

/// A slot's number and its use: a ticket from a slot's earlier use matches nothing, so a late
/// result or a late drop never touches the slot's next user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    pub index: usize,
    pub generation: u32,
}

enum State<T> {
    Free,
    /// Awaited; the waker of the last poll, if it was polled.
    Waiting(Option<Waker>),
    /// Arrived, not yet taken.
    Arrived(T),
    /// Its future was dropped before the result arrived: freed when it does.
    Abandoned,
}

struct Slot<T> {
    generation: u32,
    state: State<T>,
}

/// The slots of one thread's awaited results.
pub struct Slots<T> {
    slots: Vec<Slot<T>>,
}

impl<T> Default for Slots<T> {
    fn default() -> Self {
        Slots::new()
    }
}

impl<T> Slots<T> {
    pub const fn new() -> Slots<T> {
        Slots { slots: Vec::new() }
    }

    /// A slot for a result about to be awaited (a free one again, or a new one).
    pub fn open(&mut self) -> Ticket {
        let free = self
            .slots
            .iter()
            .position(|slot| matches!(slot.state, State::Free));
        let index = match free {
            Some(index) => index,
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    state: State::Free,
                });
                self.slots.len() - 1
            }
        };
        let mut generation = 0;
        if let Some(slot) = self.slots.get_mut(index) {
            slot.generation = slot.generation.wrapping_add(1);
            slot.state = State::Waiting(None);
            generation = slot.generation;
        }
        Ticket { index, generation }
    }

    fn slot(&mut self, ticket: Ticket) -> Option<&mut Slot<T>> {
        self.slots
            .get_mut(ticket.index)
            .filter(|slot| slot.generation == ticket.generation)
    }

    /// The result for `ticket` arrived: the waker to wake, if its future was polled. A result
    /// nobody awaits any more (the future dropped) frees the slot.
    pub fn arrive(&mut self, ticket: Ticket, value: T) -> Option<Waker> {
        let slot = self.slot(ticket)?;
        match std::mem::replace(&mut slot.state, State::Free) {
            State::Waiting(waker) => {
                slot.state = State::Arrived(value);
                waker
            }
            // Abandoned (now freed), or a second result for one ticket (ignored).
            State::Abandoned | State::Free => None,
            State::Arrived(first) => {
                slot.state = State::Arrived(first);
                None
            }
        }
    }

    /// A poll of the future holding `ticket`: the result if it arrived (the slot is then free),
    /// else `None`, remembering `waker` for the result's arrival.
    pub fn take(&mut self, ticket: Ticket, waker: &Waker) -> Option<T> {
        let slot = self.slot(ticket)?;
        match std::mem::replace(&mut slot.state, State::Free) {
            State::Arrived(value) => Some(value),
            State::Waiting(_) => {
                slot.state = State::Waiting(Some(waker.clone()));
                None
            }
            other => {
                slot.state = other;
                None
            }
        }
    }

    /// The future holding `ticket` was dropped: a result still to come frees the slot, one that
    /// came is dropped now.
    pub fn abandon(&mut self, ticket: Ticket) {
        if let Some(slot) = self.slot(ticket) {
            slot.state = match slot.state {
                State::Waiting(_) => State::Abandoned,
                _ => State::Free,
            };
        }
    }

    /// Slots in use (awaited, arrived or abandoned): for tests and leak checks.
    pub fn in_use(&self) -> usize {
        self.slots
            .iter()
            .filter(|slot| !matches!(slot.state, State::Free))
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    struct Count(AtomicU32);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn waker() -> (Arc<Count>, Waker) {
        let count = Arc::new(Count(AtomicU32::new(0)));
        (count.clone(), Waker::from(count))
    }

    #[test]
    fn a_result_that_arrives_before_the_first_poll_is_taken_by_it() {
        let mut slots = Slots::new();
        let (_, w) = waker();
        let t = slots.open();
        assert!(slots.arrive(t, 7).is_none(), "nobody to wake yet");
        assert_eq!(slots.take(t, &w), Some(7));
        assert_eq!(slots.in_use(), 0);
    }

    #[test]
    fn a_polled_future_is_woken_once_by_its_result() {
        let mut slots = Slots::new();
        let (count, w) = waker();
        let t = slots.open();
        assert_eq!(slots.take(t, &w), None);
        assert_eq!(slots.take(t, &w), None, "a spurious poll waits again");
        slots.arrive(t, "answer").expect("the waker").wake();
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert_eq!(slots.take(t, &w), Some("answer"));
        assert_eq!(slots.take(t, &w), None, "taken once");
    }

    #[test]
    fn a_dropped_future_frees_its_slot_when_the_result_comes() {
        let mut slots = Slots::new();
        let (_, w) = waker();
        let t = slots.open();
        assert_eq!(slots.take(t, &w), None);
        slots.abandon(t);
        assert_eq!(slots.in_use(), 1, "the promise may still settle");
        assert!(slots.arrive(t, 1).is_none(), "nobody to wake");
        assert_eq!(slots.in_use(), 0);
    }

    #[test]
    fn late_results_and_drops_never_touch_the_slots_next_user() {
        let mut slots = Slots::new();
        let (count, w) = waker();
        let first = slots.open();
        assert_eq!(slots.take(first, &w), None);
        slots.arrive(first, 1);
        assert_eq!(slots.take(first, &w), Some(1));
        let second = slots.open();
        assert_eq!(second.index, first.index, "the free slot is used again");
        assert_ne!(second, first);
        assert_eq!(slots.take(second, &w), None);
        // The first ticket's late drop and a stray second result change nothing.
        slots.abandon(first);
        assert!(slots.arrive(first, 99).is_none());
        slots.arrive(second, 2).expect("the second's waker").wake();
        assert_eq!(slots.take(second, &w), Some(2));
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn results_go_to_their_own_futures_in_any_order() {
        let mut slots = Slots::new();
        let (_, w) = waker();
        let tickets: Vec<Ticket> = (0..5).map(|_| slots.open()).collect();
        for t in &tickets {
            assert_eq!(slots.take(*t, &w), None);
        }
        for (i, t) in tickets.iter().enumerate().rev() {
            slots.arrive(*t, i);
        }
        for (i, t) in tickets.iter().enumerate() {
            assert_eq!(slots.take(*t, &w), Some(i));
        }
        assert_eq!(slots.in_use(), 0);
    }
}
