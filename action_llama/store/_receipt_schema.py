"""
Later migrations: webhook receipts (3; see `_receipts`), finding a
receipt's trigger rows (4), and per-agent queue depths (5).
"""

RECEIPTS_MIGRATION = """
CREATE TABLE receipts (
    receipt_id TEXT PRIMARY KEY,
    received_at REAL NOT NULL,
    provider TEXT NOT NULL,
    source TEXT,
    delivery_id TEXT,
    verdict TEXT NOT NULL,
    headers TEXT NOT NULL,
    body BLOB NOT NULL,
    body_size INTEGER NOT NULL,
    event TEXT,
    matched TEXT NOT NULL DEFAULT '[]',
    dead_letter_reason TEXT,
    replay_of TEXT
);
CREATE UNIQUE INDEX receipts_delivery ON receipts (provider, source, delivery_id)
    WHERE delivery_id IS NOT NULL AND replay_of IS NULL
    AND verdict IN ('verified', 'unsigned');
CREATE INDEX receipts_received ON receipts (received_at);
CREATE INDEX receipts_replays ON receipts (replay_of) WHERE replay_of IS NOT NULL;
"""

#: Migration 4: finding the trigger rows of a receipt, so that a delivery
#: whose dispatch was lost can be told from one that was dispatched.
TRIGGERS_BY_RECEIPT_MIGRATION = """
CREATE INDEX triggers_receipt ON triggers (receipt_id) WHERE receipt_id IS NOT NULL;
"""

#: Migration 5: each agent's queue depth (quarantined items aside), kept by
#: SQL triggers in the same transaction as every change, so that the bound
#: check of an insert costs one lookup however long the queue is.
QUEUE_DEPTHS_MIGRATION = """
CREATE TABLE queue_depths (
    agent TEXT PRIMARY KEY,
    depth INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO queue_depths (agent, depth)
    SELECT agent, count(*) FROM work_queue WHERE quarantined_at IS NULL
    GROUP BY agent;

CREATE TRIGGER work_counted_in AFTER INSERT ON work_queue
WHEN NEW.quarantined_at IS NULL BEGIN
    INSERT INTO queue_depths (agent, depth) VALUES (NEW.agent, 1)
        ON CONFLICT (agent) DO UPDATE SET depth = depth + 1;
END;
CREATE TRIGGER work_counted_out AFTER DELETE ON work_queue
WHEN OLD.quarantined_at IS NULL BEGIN
    UPDATE queue_depths SET depth = depth - 1 WHERE agent = OLD.agent;
END;
CREATE TRIGGER work_counted_quarantine AFTER UPDATE OF quarantined_at ON work_queue
WHEN (OLD.quarantined_at IS NULL) <> (NEW.quarantined_at IS NULL) BEGIN
    INSERT INTO queue_depths (agent, depth)
        VALUES (NEW.agent, CASE WHEN NEW.quarantined_at IS NULL THEN 1 ELSE -1 END)
        ON CONFLICT (agent) DO UPDATE SET depth = depth + excluded.depth;
END;
"""
