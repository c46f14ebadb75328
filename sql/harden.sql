-- What PostgreSQL itself refuses the read-only role, whatever SQL reaches it (the second
-- line of defence behind the app's SQL guard). Idempotent; run it as a SUPERUSER in every
-- database the app uses (the app database and the DATA_DATABASE_URL one), and again after
-- a PostgreSQL major upgrade (new versions add functions). sql/roles.sql includes it.
--
--   psql "host=HOST port=5432 dbname=DB user=SUPERUSER" -v ON_ERROR_STOP=1 \
--        -v reader=dashboard_reader -v app_owner=your_app_user -f sql/harden.sql
--
-- The app does the same at start-up when its own user is a superuser (the embedded
-- server); otherwise its Settings page shows "database hardening: partial" with this line.
-- The lists below are dashboard/provision.py's (a test keeps them equal).
--
-- 1. No EXECUTE for PUBLIC (hence for the reader) on functions that act beyond the query,
--    run SQL text of their own, or leak server and other sessions' state. Every overload:
--    the signatures come from pg_proc. Other roles of this database lose them too: grant
--    back what they need (see README "Security"). Only the functions' owner (the bootstrap
--    superuser) can revoke: anyone else gets warnings and nothing changes.
SELECT format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC, %I',
              string_agg(p.oid::regprocedure::text, ', ' ORDER BY p.oid), :'reader')
FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
WHERE (n.nspname = 'pg_catalog' AND (p.proname = ANY (ARRAY[
  'ts_stat', 'ts_rewrite', 'set_config', 'setseed', 'pg_notify', 'txid_current',
  'txid_current_if_assigned', 'txid_current_snapshot', 'pg_current_xact_id',
  'pg_current_xact_id_if_assigned', 'pg_current_snapshot', 'pg_export_snapshot',
  'pg_terminate_backend', 'pg_cancel_backend', 'pg_signal_backend',
  'pg_log_backend_memory_contexts', 'pg_reload_conf', 'pg_rotate_logfile',
  'pg_rotate_logfile_old', 'pg_switch_wal', 'pg_promote', 'pg_wal_replay_pause',
  'pg_wal_replay_resume', 'pg_backup_start', 'pg_backup_stop', 'pg_start_backup',
  'pg_stop_backup', 'pg_drop_replication_slot', 'pg_sync_replication_slots',
  'pg_import_system_collations', 'pg_nextoid', 'pg_stop_making_pinned_objects',
  'brin_summarize_range', 'brin_summarize_new_values', 'brin_desummarize_range',
  'gin_clean_pending_list', 'pg_log_standby_snapshot', 'pg_stat_file', 'pg_current_logfile',
  'pg_stat_get_activity', 'pg_stat_get_progress_info', 'pg_blocking_pids',
  'pg_safe_snapshot_blocking_pids', 'pg_listening_channels', 'pg_notification_queue_usage',
  'pg_postmaster_start_time',
  'pg_conf_load_time', 'inet_server_addr', 'inet_server_port', 'inet_client_addr',
  'inet_client_port', 'pg_get_loaded_modules', 'pg_get_wal_summarizer_state',
  'pg_available_wal_summaries', 'pg_wal_summary_contents'
       ]) OR p.proname LIKE ANY (ARRAY[
  '%\_to\_xml%', 'pg\_advisory%', 'pg\_try\_advisory%', 'lo\_%', 'loread', 'lowrite',
  'pg\_read%', 'pg\_ls\_%', 'pg\_logical\_%', 'pg\_replication\_%', 'pg\_create\_%',
  'pg\_copy\_%', 'pg\_stat\_reset%', 'pg\_stat\_get\_backend\_%', 'pg\_control\_%',
  'pg\_current\_wal\_%', 'pg\_last\_wal\_%', 'binary\_upgrade\_%', 'pg\_clear\_%\_stats',
  'pg\_restore\_%\_stats'
       ])))
   OR (n.nspname <> 'pg_catalog' AND p.proname LIKE ANY (ARRAY[
  'dblink%', 'crosstab%', 'connectby', 'xpath\_table', 'pg\_file\_%'
       ]))
\gexec
-- 2. The app's owner takes the provisioning lock (migrations, demo data, roles).
GRANT EXECUTE ON FUNCTION pg_catalog.pg_advisory_lock(bigint),
                           pg_catalog.pg_advisory_unlock(bigint) TO :"app_owner";
-- 3. Small sort and hash memory per query node for the reader (no per-query memory limit
--    exists in PostgreSQL), and a cap on temporary files (needs a superuser).
ALTER ROLE :"reader" IN DATABASE :"DBNAME" SET work_mem = '4MB';
ALTER ROLE :"reader" IN DATABASE :"DBNAME" SET hash_mem_multiplier = '1';
ALTER ROLE :"reader" IN DATABASE :"DBNAME" SET temp_file_limit = '1GB';
