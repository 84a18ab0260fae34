package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/shuxinqian/server/adapters/sqlstore/wmsql"
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

// outboxInsert is the text of an outbox INSERT of n rows, the publisher's own
// (wmsql.InsertText), built once per row count.
func (d *DB) outboxInsert(n int) string {
	return d.text("outbox-insert/"+strconv.Itoa(n), outboxInsertText{d.Dialect, n})
}

type outboxInsertText struct {
	dialect wmsql.Dialect
	n       int
}

func (o outboxInsertText) String() string {
	return wmsql.InsertText(o.dialect, "watermill_outbox", o.n)
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
