/* the text formats read from files: sqitch.plan, the SQL scanned for the
 * objects it touches, an outbox message and its delivery state; the first
 * byte picks which */
#include "fuzz.h"
#include "notify.h"
#include "sqitch.h"
#include "sqlobj.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, **v;
	size_t nr;

	if (size < 1)
		return 0;
	s = fuzz_str(data + 1, size - 1);
	switch (data[0] % 5) {
	case 0: {
		struct ns_sqitch_plan p = NS_SQITCH_PLAN_INIT;
		if (ns_sqitch_plan_parse(&p, "sqitch.plan", s, size - 1) == 0)
			ns_sqitch_plan_release(&p);
		break;
	}
	case 1:
		if (ns_sql_objects(&v, &nr, s) == 0)
			ns_sql_objects_free(v);
		break;
	case 2:
		if (ns_sql_no_transaction(&v, &nr, s) == 0)
			ns_sql_objects_free(v);
		break;
	case 3: {
		struct ns_message m = NS_MESSAGE_INIT;
		if (ns_message_parse(&m, "20261201T000000-00001-000-x", s,
				     size - 1, "outbox/x.msg") == 0)
			ns_message_release(&m);
		break;
	}
	default: {
		struct ns_dstate d = { 0 };
		if (ns_dstate_parse(&d, s, "outbox/x.state") == 0)
			ns_dstate_release(&d);
		break;
	}
	}
	free(s);
	return 0;
}
