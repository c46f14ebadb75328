"""What a dashboard query may use: function families, type names, forbidden tables.

An allowlist, not a denylist: a function is allowed only when it is listed here, by
family. Everything else (pg_sleep, set_config, lo_*, dblink, nextval, query_to_xml, ...)
is refused; `explain_function` says why in words an analyst can act on.
Names are PostgreSQL's (lower case, as the parser folds them).
"""

from __future__ import annotations

from collections.abc import Mapping


def names(text: str) -> frozenset[str]:
    """A set of names from whitespace-separated text (keeps the long lists readable)."""
    return frozenset(text.split())


FUNCTION_FAMILIES: Mapping[str, frozenset[str]] = {
    "aggregate": names("""
        count sum avg min max array_agg string_agg json_agg jsonb_agg json_agg_strict
        jsonb_agg_strict json_object_agg jsonb_object_agg json_object_agg_strict
        jsonb_object_agg_strict json_object_agg_unique jsonb_object_agg_unique
        json_object_agg_unique_strict jsonb_object_agg_unique_strict
        bool_and bool_or every bit_and bit_or bit_xor any_value
        stddev stddev_samp stddev_pop variance var_samp var_pop corr covar_pop covar_samp
        regr_avgx regr_avgy regr_count regr_intercept regr_r2 regr_slope regr_sxx regr_sxy
        regr_syy percentile_cont percentile_disc mode range_agg range_intersect_agg
        grouping
    """),
    "window": names("""
        row_number rank dense_rank percent_rank cume_dist ntile lag lead first_value
        last_value nth_value
    """),
    "math": names("""
        abs cbrt ceil ceiling degrees div exp factorial floor gcd lcm ln log log10
        min_scale mod pi power pow radians round scale sign sqrt trim_scale trunc
        width_bucket random random_normal acos acosd asin asind atan atand atan2 atan2d
        cos cosd cot cotd sin sind tan tand sinh cosh tanh asinh acosh atanh erf erfc
        greatest least
    """),
    "string": names("""
        ascii bit_length btrim char_length character_length chr concat concat_ws initcap
        left length lower lpad ltrim md5 normalize is_normalized octet_length overlay
        position quote_ident quote_literal quote_nullable regexp_count regexp_instr
        regexp_like regexp_match regexp_matches regexp_replace regexp_split_to_array
        regexp_split_to_table regexp_substr repeat replace reverse right rpad rtrim
        split_part starts_with string_to_array string_to_table strpos substr substring
        to_ascii to_hex to_bin to_oct translate trim upper unistr casefold
        encode decode sha224 sha256 sha384 sha512 crc32 crc32c get_bit get_byte bit_count
        similar_to_escape like_escape
    """),
    "formatting": names("to_char to_date to_number to_timestamp format"),
    "date/time": names("""
        age clock_timestamp current_date current_time current_timestamp localtime
        localtimestamp date_add date_bin date_part date_subtract date_trunc extract
        isfinite justify_days justify_hours justify_interval make_date make_interval
        make_time make_timestamp make_timestamptz now statement_timestamp timeofday
        transaction_timestamp timezone overlaps
    """),
    "conditional": names("coalesce nullif num_nulls num_nonnulls"),
    "json": names("""
        to_json to_jsonb array_to_json row_to_json json_build_array jsonb_build_array
        json_build_object jsonb_build_object json_object jsonb_object json_array_length
        jsonb_array_length json_each jsonb_each json_each_text jsonb_each_text
        json_extract_path jsonb_extract_path json_extract_path_text jsonb_extract_path_text
        json_object_keys jsonb_object_keys json_array_elements jsonb_array_elements
        json_array_elements_text jsonb_array_elements_text json_typeof jsonb_typeof
        json_strip_nulls jsonb_strip_nulls jsonb_set jsonb_set_lax jsonb_insert
        jsonb_pretty jsonb_path_exists jsonb_path_match jsonb_path_query
        jsonb_path_query_array jsonb_path_query_first jsonb_path_exists_tz
        jsonb_path_match_tz jsonb_path_query_tz jsonb_path_query_array_tz
        jsonb_path_query_first_tz json_to_record json_to_recordset jsonb_to_record
        jsonb_to_recordset json_scalar json_serialize jsonb_concat json json_array
        json_arrayagg json_objectagg json_exists json_value json_query
    """),
    "array": names("""
        array_append array_cat array_dims array_fill array_length array_lower array_ndims
        array_position array_positions array_prepend array_remove array_replace
        array_reverse array_sample array_shuffle array_sort array_to_string array_upper
        cardinality trim_array unnest generate_subscripts
    """),
    "range": names("""
        lower_inc upper_inc lower_inf upper_inf isempty range_merge int4range int8range
        numrange tsrange tstzrange daterange int4multirange int8multirange nummultirange
        tsmultirange tstzmultirange datemultirange multirange
    """),
    "text search": names("""
        to_tsvector to_tsquery plainto_tsquery phraseto_tsquery websearch_to_tsquery
        ts_rank ts_rank_cd ts_headline tsvector_to_array array_to_tsvector setweight strip
        numnode querytree
    """),
    "network": names("""
        abbrev broadcast family host hostmask inet_merge inet_same_family masklen netmask
        network set_masklen
    """),
    "uuid": names("gen_random_uuid uuidv4 uuidv7 uuid_extract_timestamp uuid_extract_version"),
    "session information": names("""
        current_user session_user current_role user current_catalog current_schema
        current_database system_user
    """),
    "series": frozenset({"generate_series"}),
}

# Type names usable in casts (`x::date`, `CAST(x AS numeric)`, `date '2024-01-01'`) and
# function-style casts (`date(x)`). Table row types, reg* (catalog lookups), oid/xid and
# pseudo-types are left out.
CAST_TYPES: frozenset[str] = names("""
    int2 int4 int8 smallint integer int bigint float4 float8 real float double numeric
    decimal bool boolean text varchar bpchar char character nchar name
    date time timetz timestamp timestamptz interval json jsonb uuid bytea bit varbit
    inet cidr macaddr macaddr8 money tsvector tsquery
    int4range int8range numrange daterange tsrange tstzrange
    int4multirange int8multirange nummultirange datemultirange tsmultirange tstzmultirange
    point line lseg box path polygon circle jsonpath
""")

# Type names PostgreSQL also accepts as functions (`date(ordered_at)`, `text(id)`).
CAST_FUNCTIONS: frozenset[str] = names("""
    int2 int4 int8 float4 float8 numeric bool text varchar bpchar date time timetz timestamp
    timestamptz interval json jsonb uuid bytea inet cidr money
""")

ALLOWED_FUNCTIONS: frozenset[str] = frozenset().union(*FUNCTION_FAMILIES.values(), CAST_FUNCTIONS)

# PostgreSQL's built-in operators (pg_operator of a fresh cluster); a custom operator
# would run whatever function it was defined with.
OPERATORS: frozenset[str] = names("""
    !! !~ !~* !~~ !~~* # ## #- #> #>> % & && &< &<| &> * *< *<= *<> *= *> *>= + - -> ->>
    -|- / < <-> << <<= <<| <= <> <@ <^ = > >= >> >>= >^ ? ?# ?& ?- ?-| ?| ?|| @ @-@ @> @?
    @@ @@@ ^ ^@ | |&> |/ |>> || ||/ ~ ~* ~<=~ ~<~ ~= ~>=~ ~>~ ~~ ~~* !=
""")

TABLESAMPLE_METHODS: frozenset[str] = frozenset({"system", "bernoulli"})

# The app's own tables: never readable by generated SQL, whatever the settings say.
APP_TABLES: frozenset[str] = frozenset({"users", "widgets", "schema_migrations", "app_secrets"})
APP_SCHEMA = "public"
SYSTEM_SCHEMAS: frozenset[str] = frozenset({"pg_catalog", "information_schema", "pg_toast"})

# generate_series calls with constant bounds may produce at most this many rows.
MAX_SERIES_ROWS = 10_000_000

# Known-dangerous families, checked in order, so refusals say *why* (prefix or exact name).
_DANGER: tuple[tuple[tuple[str, ...], str], ...] = (
    (("pg_sleep",), "it pauses the database session and would hold a connection"),
    (("set_config", "current_setting", "pg_settings_"),
     "it reads or changes server settings"),
    (("pg_advisory", "pg_try_advisory"), "it takes an advisory lock"),
    (("nextval", "setval", "currval", "lastval"), "it uses or advances a sequence"),
    (("txid_", "pg_current_xact_id", "pg_current_snapshot", "pg_snapshot_", "pg_xact_",
      "pg_visible_in_snapshot"), "it assigns or inspects transaction ids"),
    (("lo_", "lowrite", "loread"), "it reads or writes large objects"),
    (("dblink",), "it opens a connection to another database"),
    (("query_to_xml", "table_to_xml", "schema_to_xml", "database_to_xml", "cursor_to_xml",
      "ts_stat", "ts_rewrite"), "it runs SQL hidden inside a string"),
    (("pg_read_", "pg_ls_", "pg_stat_file", "pg_file_"), "it reads or writes server files"),
    (("pg_terminate_backend", "pg_cancel_backend"), "it stops other database sessions"),
    (("pg_notify",), "it sends notifications to other sessions"),
    (("setseed",), "it changes the session's random seed"),
    (("xml", "xpath", "table_to_", "query_to_", "cursor_to_", "schema_to_",
      "database_to_"), "XML functions are not available in dashboard queries"),
    (("pg_", "has_", "to_reg", "obj_description", "col_description", "shobj_description",
      "format_type", "version", "inet_client", "inet_server", "current_query"),
     "it reads PostgreSQL's internal catalog or server state"),
)


def function_family(name: str) -> str | None:
    """The family a function belongs to, or None when it is not allowed."""
    for family, names in FUNCTION_FAMILIES.items():
        if name in names:
            return family
    if name in CAST_FUNCTIONS:
        return "type conversion"
    return None


def explain_function(name: str) -> str:
    """Why a function is refused, naming it."""
    for prefixes, why in _DANGER:
        if any(name.startswith(p) for p in prefixes):
            return f"The function {name}() is not allowed in dashboard queries: {why}."
    return (f"The function {name}() is not on the list of functions dashboard queries may "
            "use (aggregates, window, math, string, date/time, JSON, array and formatting "
            "functions are).")


def base_type_name(name: str) -> str:
    """`character varying` -> `varchar` and friends, for the type allowlist."""
    return _TYPE_ALIASES.get(name, name)


_TYPE_ALIASES = {
    "character": "bpchar", "double": "float8", "real": "float4", "decimal": "numeric",
    "character varying": "varchar", "double precision": "float8",
    "timestamp with time zone": "timestamptz", "timestamp without time zone": "timestamp",
    "time with time zone": "timetz", "time without time zone": "time",
    "bit varying": "varbit",
}


def is_known_dangerous(name: str) -> bool:
    """True for the functions with side effects or server access (checked on raw tokens)."""
    return any(name.startswith(p) for prefixes, _ in _DANGER[:12] for p in prefixes)
