-- A payment's alert: something a person must know or act on (for example an
-- ECR result that was never acknowledged and the automatic reversal of it).
ALTER TABLE payments ADD COLUMN alert TEXT NOT NULL DEFAULT '';
