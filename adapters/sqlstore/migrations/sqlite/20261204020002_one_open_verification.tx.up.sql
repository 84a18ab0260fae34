-- One open verification per initiator and credit code (issue 11 item 5): the micro-deposit tries
-- and transfers were counted per verification, so opening several multiplied them. Older
-- duplicates left open by earlier versions are superseded (the newest one stays open).
UPDATE verifications SET status = 'superseded'
WHERE status = 'in_progress' AND EXISTS (
  SELECT 1 FROM verifications AS newer
  WHERE newer.initiator_id = verifications.initiator_id AND newer.credit_code = verifications.credit_code
    AND newer.status = 'in_progress'
    AND (newer.created_at > verifications.created_at OR (newer.created_at = verifications.created_at AND newer.id > verifications.id)));
CREATE UNIQUE INDEX verifications_one_open ON verifications (initiator_id, credit_code) WHERE status = 'in_progress';
