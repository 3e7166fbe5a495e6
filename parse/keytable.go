package parse

// keyInfo is what a log key or dotted path means to the parser.
type keyInfo struct {
	alias    alias
	hasAlias bool
	prefix   bool // a dotted alias continues below this path
	drop     bool // a content field or listed in drop_fields: never kept
}

type keyEntry struct {
	key  string
	info keyInfo
}

// keyTable is a small open-addressed hash table from key bytes to keyInfo.
// It replaces map[string] lookups on the hot path: every member of every
// record is looked up, and a cheap hash of length and three bytes, checked
// by comparing the key, is several times faster than a general string hash.
type keyTable struct {
	slots []keyEntry
	mask  uint32
}

func keyHash(b []byte) uint32 {
	n := uint32(len(b))
	if n == 0 {
		return 0
	}
	return n*0x9E3779B1 ^ uint32(b[0])*0x85EBCA77 ^ uint32(b[n-1])*0xC2B2AE3D ^ uint32(b[n/2])*0x27D4EB2F
}

func newKeyTable(entries map[string]keyInfo) keyTable {
	size := 16
	for size < 4*len(entries) {
		size *= 2
	}
	t := keyTable{slots: make([]keyEntry, size), mask: uint32(size - 1)}
	for k, info := range entries {
		i := keyHash([]byte(k)) & t.mask
		for t.slots[i].key != "" {
			i = (i + 1) & t.mask
		}
		t.slots[i] = keyEntry{key: k, info: info}
	}
	return t
}

// get looks b up; the zero keyInfo means the key means nothing special.
func (t *keyTable) get(b []byte) keyInfo {
	if len(b) == 0 {
		return keyInfo{}
	}
	for i := keyHash(b) & t.mask; ; i = (i + 1) & t.mask {
		e := &t.slots[i]
		if e.key == "" {
			return keyInfo{}
		}
		if len(e.key) == len(b) && e.key == string(b) {
			return e.info
		}
	}
}
