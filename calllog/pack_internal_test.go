package calllog

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// Packed rows unpack as they were, with ids explicit or implicit, from any
// place in the batch; data cut short is an error, never a panic or a
// made-up row.
func TestPackRoundTrip(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(5, 6))
	for round := range 200 {
		n := 1 + r.IntN(300)
		rows := make([]packedRow, n)
		date := r.Int64N(1 << 52)
		id := r.Int64N(1 << 40)
		for i := range rows {
			date += r.Int64N(3) * r.Int64N(2_000_000)
			id += 1 + r.Int64N(5)
			rows[i] = packedRow{id: id, date: date, runtime: r.Int64N(math.MaxInt64), user: r.Int64N(1<<40) - 1<<39,
				status: []int64{200, 204, 400, 404, 429, 500, -32808, -32602}[r.IntN(8)], flags: uint8(r.IntN(8))}
			if r.IntN(4) == 0 {
				rows[i].hasText, rows[i].text = true, []string{"", "no \"good\" input", "ünï", string(make([]byte, 1024))}[r.IntN(4)]
			}
			rows[i].addr = parseClientAddr([]string{"", "192.0.2.1", "192.0.2.2", "2001:db8::1", "::ffff:198.51.100.7"}[r.IntN(5)])
		}
		explicit := round%2 == 0
		first := r.IntN(1000)
		data := appendPacked(nil, rows, explicit, first, nil)
		b := packedBatch{id: int64(round + 1), firstDate: rows[0].date, n: n, data: data}
		got, gotExplicit, gotFirst, err := b.unpack(nil)
		require.NoError(t, err)
		require.Equal(t, explicit, gotExplicit)
		want := rows
		if !explicit {
			require.Equal(t, first, gotFirst)
			want = append([]packedRow(nil), rows...)
			for i := range want {
				want[i].id = b.id<<batchIDShift | int64(first+i)
			}
		}
		require.Equal(t, want, got)

		cut := packedBatch{id: b.id, firstDate: b.firstDate, n: n, data: data[:r.IntN(len(data))]}
		part, _, _, err := cut.unpack(nil)
		require.Error(t, err, "round %d: %d of %d bytes", round, len(cut.data), len(data))
		require.Equal(t, want[:len(part)], append([]packedRow{}, part...), "the rows before the cut are whole")
	}
}

// Batches packed before the client address was stored (version 1) read
// as they were, without addresses.
func TestUnpackVersion1(t *testing.T) {
	t.Parallel()
	data := []byte{packV1, 0, 3}                     // implicit ids from index 3
	data = binary.AppendUvarint(data, 0)             // date: first_date
	data = binary.AppendUvarint(data, 1_500_000)     // runtime
	data = binary.AppendVarint(data, 12)             // user
	data = binary.AppendVarint(data, 200)            // status
	data = append(data, 0, 0)                        // flags, the status's own text
	data = binary.AppendUvarint(data, 7)             // date: 7 µs later
	data = binary.AppendUvarint(data, 2_000)         // runtime
	data = binary.AppendVarint(data, 0)              // a guest
	data = binary.AppendVarint(data, -32808)         // status
	data = append(data, flagError, 4, 'b', 'a', 'd') // flags, text "bad"
	b := packedBatch{id: 9, firstDate: 1_000_000, n: 2, data: data}
	rows, explicit, first, err := b.unpack(nil)
	require.NoError(t, err)
	require.False(t, explicit)
	require.Equal(t, 3, first)
	require.Equal(t, []packedRow{
		{id: 9<<batchIDShift | 3, date: 1_000_000, runtime: 1_500_000, user: 12, status: 200},
		{id: 9<<batchIDShift | 4, date: 1_000_007, runtime: 2_000, status: -32808, flags: flagError, hasText: true, text: "bad"},
	}, rows)
	require.Empty(t, rows[0].addr.String())

	// Repacked (as the retention job does), they keep what they had.
	again := packedBatch{id: 9, firstDate: 1_000_000, n: 2, data: appendPacked(nil, rows, false, 3, nil)}
	got, _, _, err := again.unpack(nil)
	require.NoError(t, err)
	require.Equal(t, rows, got)
}

func TestClientAddr(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"192.0.2.1": "192.0.2.1", "2001:db8::1": "2001:db8::1", "::ffff:192.0.2.9": "192.0.2.9",
		"fe80::1%eth0": "fe80::1", "": "", "not an address": "", "192.0.2.1:80": "",
	} {
		require.Equal(t, want, parseClientAddr(in).String(), in)
	}
}
