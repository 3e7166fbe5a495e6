package rules

import "strings"

// grouping maps the group_by values of records to slots. Rules with the
// same group_by share one, so a record's key is built and looked up once
// however many rules group by it (a per-user map of 100,000 keys is a cache
// miss per lookup: five per-user rules would pay it five times). Each rule
// keeps its groups in a slice indexed by slot.
type grouping struct {
	fields []fieldRef
	keys   map[string]int32
	refs   []int32 // rules holding a group in each slot
	free   []int32

	// The current record's key and slot (-1: not in keys), valid while seq
	// is the engine's record number.
	seq  uint64
	slot int32
	key  []byte
}

func groupingName(fields []string) string {
	return strings.Join(fields, "\x00")
}

func newGrouping(fields []fieldRef) *grouping {
	return &grouping{fields: fields, keys: map[string]int32{}, seq: ^uint64(0)}
}

// lookup returns the slot of the record being observed, -1 if new.
func (gr *grouping) lookup(e *Engine) int32 {
	if gr.seq == e.seq {
		return gr.slot
	}
	b := gr.key[:0]
	for i, f := range gr.fields {
		if i > 0 {
			b = append(b, 0xff) // in no UTF-8 text
		}
		b = append(b, e.rv.get(f)...)
	}
	gr.key = b
	slot, ok := gr.keys[string(b)]
	if !ok {
		slot = -1
	}
	gr.seq, gr.slot = e.seq, slot
	return slot
}

// add gives the record being observed (after lookup) a slot.
func (gr *grouping) add() int32 {
	var slot int32
	if n := len(gr.free); n > 0 {
		slot = gr.free[n-1]
		gr.free = gr.free[:n-1]
	} else {
		slot = int32(len(gr.refs))
		gr.refs = append(gr.refs, 0)
	}
	gr.keys[string(gr.key)] = slot
	gr.slot = slot
	return slot
}

// release drops one rule's hold on slot; the last frees it.
func (gr *grouping) release(slot int32, key string) {
	gr.refs[slot]--
	if gr.refs[slot] == 0 {
		delete(gr.keys, key)
		gr.free = append(gr.free, slot)
		if gr.slot == slot {
			gr.seq = ^uint64(0)
		}
	}
}
