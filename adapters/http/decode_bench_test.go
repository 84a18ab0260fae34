package http

import (
	"encoding/json"
	"fmt"
	"testing"
)

// batchBody is a POST …/members/batch body of n ids, as the load harness sends it.
func batchBody(n int) []byte {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("01m96q9qhs15r5ghjv%08d", i)
	}
	b, _ := json.Marshal(map[string]any{"decision": "approve", "member_ids": ids})
	return b
}

// BenchmarkDecodeBatchBody is the request side of a 1,000-request approval: the decoding with
// every rule of decode (unknown fields, trailing data, duplicate keys, the fields' text).
func BenchmarkDecodeBatchBody(b *testing.B) {
	body := batchBody(1000)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		var req batchRequest
		if err := decodeBytes(body, &req); err != nil || len(req.MemberIDs) != 1000 {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeBatchBodyParts(b *testing.B) {
	body := batchBody(1000)
	b.Run("checkDuplicateKeys", func(b *testing.B) {
		for b.Loop() {
			if err := checkDuplicateKeys(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	var req batchRequest
	_ = json.Unmarshal(body, &req)
	b.Run("checkBody", func(b *testing.B) {
		for b.Loop() {
			if err := checkBody(&req); err != nil {
				b.Fatal(err)
			}
		}
	})
}
