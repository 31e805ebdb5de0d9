SELECT object_id, state::text, object FROM /* schema */delta_resource
WHERE kind = $1 AND object_id = ANY($2::text[])
ORDER BY object_id
FOR UPDATE
