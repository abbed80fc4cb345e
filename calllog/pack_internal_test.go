package calllog

import (
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
		}
		explicit := round%2 == 0
		first := r.IntN(1000)
		data := appendPacked(nil, rows, explicit, first)
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
		require.Equal(t, want[:len(part)], part, "the rows before the cut are whole")
	}
}
