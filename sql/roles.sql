-- Run once as an administrator when the app's own database user may not create roles
-- (hosted PostgreSQL). Then give the app READER_DATABASE_URL with this role's login.
--
--   psql "$ADMIN_URL" -v reader=dashboard_reader -v password='choose-one' \
--        -v app_owner=your_app_user -v schema=demo -f sql/roles.sql
--
-- Repeat the GRANT lines for every schema listed in DATA_SCHEMAS. The last step (run as a
-- superuser) is sql/harden.sql: no EXECUTE for the reader on functions that act beyond
-- a read; run that file alone in every other database the app uses (DATA_DATABASE_URL).
CREATE ROLE :"reader" LOGIN PASSWORD :'password' NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
REVOKE TEMPORARY ON DATABASE :"DBNAME" FROM PUBLIC;
GRANT TEMPORARY ON DATABASE :"DBNAME" TO :"app_owner";
GRANT CONNECT ON DATABASE :"DBNAME" TO :"reader";
GRANT USAGE ON SCHEMA :"schema" TO :"reader";
GRANT SELECT ON ALL TABLES IN SCHEMA :"schema" TO :"reader";
ALTER DEFAULT PRIVILEGES FOR ROLE :"app_owner" IN SCHEMA :"schema" GRANT SELECT ON TABLES TO :"reader";
ALTER ROLE :"reader" IN DATABASE :"DBNAME" SET default_transaction_read_only = on;
ALTER ROLE :"reader" IN DATABASE :"DBNAME" SET statement_timeout = '10s';
ALTER ROLE :"reader" IN DATABASE :"DBNAME" SET idle_in_transaction_session_timeout = '30s';
ALTER ROLE :"reader" IN DATABASE :"DBNAME" SET search_path = :"schema";
\ir harden.sql
