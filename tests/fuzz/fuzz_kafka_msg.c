/* fuzz_kafka_msg.c: libFuzzer target for Debezium's value conversions of the Kafka message encoding. */
#include "walpipe/buf.h"
#include "walpipe/kafka_msg.h"
#include "walpipe/pgtext.h"
#include "walpipe/wal2json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * Input: one byte of options (bit 0-1: decimal.handling.mode, bit 2:
 * time.precision.mode connect, bit 3: the value was a JSON number, bit
 * 4: interval.handling.mode string, bit 5: hstore.handling.mode map), then
 * a column type (format_type text, e.g. "numeric(12,2)", "date[]") up to
 * a newline, then the value as the server's text.  kafka_msg_value must
 * neither crash nor read past the value, whatever the text: the server's
 * output of every type goes through it, and only some of it parses.
 * The interval and hstore parsers (pgtext.h) get the value too, in a
 * buffer of exactly its length, so a read past it is caught.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kafka_msg_ctx ctx;
	struct w2j_column v;
	struct buf out = BUF_INIT;
	char *type, *value, *nl;

	if (size < 1)
		return 0;
	memset(&ctx, 0, sizeof(ctx));
	ctx.decimal = (enum kafka_decimal_mode) ((data[0] & 3) % 3);
	ctx.time = data[0] & 4 ? KAFKA_TIME_CONNECT : KAFKA_TIME_ADAPTIVE;
	ctx.interval =
		data[0] & 16 ? KAFKA_INTERVAL_STRING : KAFKA_INTERVAL_NUMERIC;
	ctx.hstore = data[0] & 32 ? KAFKA_HSTORE_MAP : KAFKA_HSTORE_JSON;
	type = malloc(size);
	memcpy(type, data + 1, size - 1);
	type[size - 1] = '\0';
	nl = memchr(type, '\n', size - 1);
	value = nl ? nl + 1 : type + size - 1;
	if (nl)
		*nl = '\0';
	memset(&v, 0, sizeof(v));
	v.name = "x";
	v.name_len = 1;
	v.value = value;
	v.value_len = strlen(value);
	v.kind = data[0] & 8 ? W2J_NUMBER : W2J_STRING;
	kafka_msg_value(&out, type, &v, &ctx);
	{
		char *exact = malloc(v.value_len ? v.value_len : 1);
		struct pgtext_interval iv;

		memcpy(exact, value, v.value_len);
		if (pgtext_interval_parse(exact, v.value_len, &iv)) {
			(void) pgtext_interval_micros(&iv);
			pgtext_interval_iso(&out, &iv);
		}
		(void) pgtext_hstore_json(&out, exact, v.value_len);
		free(exact);
	}
	buf_free(&out);
	free(type);
	return 0;
}
