-- Alerts that need a person (docs/console.md "Alerts"): a payment's alert
-- stays open until someone marks it handled; a new alert text opens it
-- again. The open ones are read through an index holding only them, so
-- listing and counting them costs what is open, not the journal's age.
--
-- alert_handled_at: when a person marked the alert handled (unix ms UTC; 0 = open, or no alert)
ALTER TABLE payments ADD COLUMN alert_handled_at INTEGER NOT NULL DEFAULT 0;
CREATE INDEX payments_open_alerts ON payments (updated_at) WHERE alert <> '' AND alert_handled_at = 0;
