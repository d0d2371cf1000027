"""
The schema of webhook receipts (migration 3); see `_receipts`.
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
