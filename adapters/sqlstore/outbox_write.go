package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
)

// envelope is the outbox row's payload as watermill's forwarder reads it (its messageEnvelope in
// components/forwarder/envelope.go): the destination topic and the message. The forwarder
// publishes the message, with its id, metadata and payload, to that topic.
type envelope struct {
	DestinationTopic string            `json:"destination_topic"`
	UUID             string            `json:"uuid"`
	Payload          []byte            `json:"payload"`
	Metadata         map[string]string `json:"metadata"`
}

// outboxInsertTexts memoises the INSERT text of n rows per dialect.
var outboxInsertTexts sync.Map // "pg/n" or "sqlite/n" → text

func (d *DB) outboxInsert(n int) string {
	key := "sqlite/" + strconv.Itoa(n)
	if d.IsPostgres() {
		key = "pg/" + strconv.Itoa(n)
	}
	if text, ok := outboxInsertTexts.Load(key); ok {
		return text.(string)
	}
	var b strings.Builder
	b.WriteString(`INSERT INTO watermill_outbox (uuid, payload, metadata) VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		if d.IsPostgres() {
			fmt.Fprintf(&b, "($%d,$%d,$%d)", 3*i+1, 3*i+2, 3*i+3)
		} else {
			b.WriteString("(?,?,?)")
		}
	}
	text, _ := outboxInsertTexts.LoadOrStore(key, b.String())
	return text.(string)
}

// writeOutbox writes msgs, each for its topic, to the outbox inside tx, in order: the rows
// watermill's forwarder Publisher would write (a new id, the enveloped message, empty metadata),
// without building a publisher per transaction. On SQLite in power-of-two chunks (sqliteChunk),
// each text prepared once per connection; on Postgres in one statement, the payloads sent as
// binary values (DB.CachedStatement).
func (d *DB) writeOutbox(ctx context.Context, tx *sql.Tx, topics []string, msgs []*message.Message) error {
	args := make([]any, 0, 3*len(msgs))
	for i, m := range msgs {
		b, err := json.Marshal(envelope{DestinationTopic: topics[i], UUID: m.UUID, Payload: m.Payload, Metadata: m.Metadata})
		if err != nil {
			return fmt.Errorf("sqlstore: outbox: %w", err)
		}
		args = append(args, watermill.NewUUID(), b, "{}")
	}
	for len(msgs) > 0 {
		n := d.outboxChunk(len(msgs))
		if _, err := d.ExecTx(ctx, tx, d.outboxInsert(n), args[:3*n]...); err != nil {
			return fmt.Errorf("sqlstore: outbox: %w", err)
		}
		msgs, args = msgs[n:], args[3*n:]
	}
	return nil
}
