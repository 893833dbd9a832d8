-- Receipts (docs/receipts.md): what a provider's answer says about a
-- payment that the journal did not keep yet, for the receipt the agent
-- builds from the journal row. Never card data beyond the masked PAN: the
-- EMV application identifier and label name the card's application, not
-- the card.
--
-- card_aid:       the EMV application identifier (AID, hex, 5 to 16 bytes), '' when not known
-- card_app_label: the EMV application label (tag 50, printable, at most 16 characters), '' when not known
-- provider_tid:   the provider's terminal id (TID), when it names the terminal otherwise than its SN
-- provider_mid:   the provider's merchant id (MID)
-- provider_at:    when the provider says the transaction ended (unix ms UTC; 0 = not said)
ALTER TABLE payments ADD COLUMN card_aid TEXT NOT NULL DEFAULT ''
    CHECK (card_aid = '' OR (length(card_aid) BETWEEN 10 AND 32 AND card_aid NOT GLOB '*[^0-9A-F]*'));
ALTER TABLE payments ADD COLUMN card_app_label TEXT NOT NULL DEFAULT '' CHECK (length(card_app_label) <= 32);
ALTER TABLE payments ADD COLUMN provider_tid TEXT NOT NULL DEFAULT '' CHECK (length(provider_tid) <= 64);
ALTER TABLE payments ADD COLUMN provider_mid TEXT NOT NULL DEFAULT '' CHECK (length(provider_mid) <= 64);
ALTER TABLE payments ADD COLUMN provider_at INTEGER NOT NULL DEFAULT 0;
