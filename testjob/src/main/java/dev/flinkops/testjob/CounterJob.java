package dev.flinkops.testjob;

import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiterStrategy;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.connector.datagen.source.GeneratorFunction;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;
import org.apache.flink.util.Collector;

import java.util.HashSet;
import java.util.Set;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Stateful test job for flinkops: generator -> keyBy -> keyed ValueState counter -> discarding sink.
 *
 * <p>Compiles and runs unchanged on Flink 1.19/1.20 and 2.x: it uses only APIs present in both
 * (open(OpenContext), DataGeneratorSource, sink v2 DiscardingSink) and parses its own arguments.
 *
 * <p>The counter operator (name "Counter") registers two gauges, read over REST as
 * {@code GET /jobs/:jid/vertices/:vid/subtasks/metrics?get=Counter.maxCount,Counter.restoredMax}:
 *
 * <ul>
 *   <li>"maxCount": the largest per-key counter value this subtask has produced;
 *   <li>"restoredMax": the largest per-key counter value this subtask found in its state when it
 *       first saw each key after it started. It is 0 for a job that started empty and at least the
 *       savepoint's counts for a restored one, so a test can tell the two apart at the first
 *       reading instead of waiting for a fresh job to count past a floor.
 * </ul>
 */
public final class CounterJob {

    private static final Logger LOG = LoggerFactory.getLogger(CounterJob.class);

    static final String USAGE =
            "CounterJob args: [--name NAME] [--rate N] [--keys K] [--uid-suffix S] [--tag X]"
                    + " [--fail-in-main true|false] [--fail-after-seconds N] [--sleep-per-record-ms N]";

    private CounterJob() {}

    /** Parsed program arguments. */
    static final class Args {
        String name = "counter";
        double rate = 50;
        long keys = 4;
        String uidSuffix = "";
        String tag = "";
        boolean failInMain = false;
        long failAfterSeconds = 0;
        long sleepPerRecordMs = 0;

        static Args parse(String[] argv) {
            Args a = new Args();
            for (int i = 0; i < argv.length; i++) {
                String key = argv[i];
                String value;
                int eq = key.indexOf('=');
                if (key.startsWith("--") && eq > 0) {
                    value = key.substring(eq + 1);
                    key = key.substring(0, eq);
                } else {
                    if (i + 1 >= argv.length) {
                        throw new IllegalArgumentException(
                                "CounterJob: missing value for argument '" + key + "'. " + USAGE);
                    }
                    value = argv[++i];
                }
                switch (key) {
                    case "--name":
                        a.name = value;
                        break;
                    case "--rate":
                        a.rate = parseDouble(key, value);
                        if (a.rate <= 0) {
                            throw new IllegalArgumentException("CounterJob: --rate must be > 0");
                        }
                        break;
                    case "--keys":
                        a.keys = parseLong(key, value);
                        if (a.keys <= 0) {
                            throw new IllegalArgumentException("CounterJob: --keys must be > 0");
                        }
                        break;
                    case "--uid-suffix":
                        a.uidSuffix = value;
                        break;
                    case "--tag":
                        a.tag = value;
                        break;
                    case "--fail-in-main":
                        a.failInMain = parseBool(key, value);
                        break;
                    case "--fail-after-seconds":
                        a.failAfterSeconds = parseLong(key, value);
                        break;
                    case "--sleep-per-record-ms":
                        a.sleepPerRecordMs = parseLong(key, value);
                        break;
                    default:
                        throw new IllegalArgumentException(
                                "CounterJob: unknown argument '" + key + "'. " + USAGE);
                }
            }
            return a;
        }

        private static long parseLong(String key, String value) {
            try {
                return Long.parseLong(value.trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(
                        "CounterJob: " + key + " expects an integer, got '" + value + "'");
            }
        }

        private static double parseDouble(String key, String value) {
            try {
                return Double.parseDouble(value.trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(
                        "CounterJob: " + key + " expects a number, got '" + value + "'");
            }
        }

        private static boolean parseBool(String key, String value) {
            switch (value.trim().toLowerCase()) {
                case "true":
                    return true;
                case "false":
                    return false;
                default:
                    throw new IllegalArgumentException(
                            "CounterJob: " + key + " expects true or false, got '" + value + "'");
            }
        }
    }

    public static void main(String[] argv) throws Exception {
        Args args = Args.parse(argv);
        String banner =
                String.format(
                        "CounterJob name=%s rate=%s keys=%d uidSuffix='%s' tag='%s'"
                                + " failAfterSeconds=%d sleepPerRecordMs=%d",
                        args.name,
                        args.rate,
                        args.keys,
                        args.uidSuffix,
                        args.tag,
                        args.failAfterSeconds,
                        args.sleepPerRecordMs);
        System.out.println(banner);
        LOG.info(banner);

        if (args.failInMain) {
            throw new RuntimeException(
                    "CounterJob: failing in main() on purpose (--fail-in-main true)");
        }

        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();

        DataGeneratorSource<Long> source =
                new DataGeneratorSource<>(
                        new IndexGenerator(),
                        Long.MAX_VALUE,
                        RateLimiterStrategy.perSecond(args.rate),
                        Types.LONG);

        env.fromSource(source, WatermarkStrategy.noWatermarks(), "Generator")
                .uid("generator")
                .name("Generator")
                .keyBy(new ModKey(args.keys), Types.LONG)
                .process(new Counter(args.failAfterSeconds, args.sleepPerRecordMs), Types.LONG)
                .uid("counter" + args.uidSuffix)
                .name("Counter")
                .sinkTo(new DiscardingSink<>())
                .uid("sink")
                .name("Discard");

        env.execute(args.name);
    }

    /** Emits the sequence index itself. */
    static final class IndexGenerator implements GeneratorFunction<Long, Long> {
        private static final long serialVersionUID = 1L;

        @Override
        public Long map(Long index) {
            return index;
        }
    }

    /** key = value mod K. */
    static final class ModKey implements KeySelector<Long, Long> {
        private static final long serialVersionUID = 1L;
        private final long keys;

        ModKey(long keys) {
            this.keys = keys;
        }

        @Override
        public Long getKey(Long value) {
            return Math.floorMod(value, keys);
        }
    }

    /** Per-key counter in keyed ValueState; emits the new count; gauge "maxCount". */
    static final class Counter extends KeyedProcessFunction<Long, Long, Long> {
        private static final long serialVersionUID = 1L;

        private final long failAfterSeconds;
        private final long sleepPerRecordMs;

        private transient ValueState<Long> count;
        private transient volatile long maxCount;
        private transient volatile long restoredMax;
        private transient Set<Long> seenKeys;
        private transient long startedAtMillis;

        Counter(long failAfterSeconds, long sleepPerRecordMs) {
            this.failAfterSeconds = failAfterSeconds;
            this.sleepPerRecordMs = sleepPerRecordMs;
        }

        @Override
        public void open(OpenContext openContext) throws Exception {
            count = getRuntimeContext().getState(new ValueStateDescriptor<>("count", Types.LONG));
            maxCount = 0L;
            restoredMax = 0L;
            seenKeys = new HashSet<>();
            startedAtMillis = System.currentTimeMillis();
            getRuntimeContext().getMetricGroup().gauge("maxCount", (Gauge<Long>) () -> maxCount);
            getRuntimeContext().getMetricGroup().gauge("restoredMax", (Gauge<Long>) () -> restoredMax);
        }

        @Override
        public void processElement(Long value, Context ctx, Collector<Long> out) throws Exception {
            if (failAfterSeconds > 0
                    && System.currentTimeMillis() - startedAtMillis >= failAfterSeconds * 1000L) {
                throw new RuntimeException(
                        "CounterJob: failing on purpose after "
                                + failAfterSeconds
                                + " s (--fail-after-seconds)");
            }
            if (sleepPerRecordMs > 0) {
                Thread.sleep(sleepPerRecordMs);
            }
            Long current = count.value();
            if (seenKeys.add(ctx.getCurrentKey()) && current != null && current > restoredMax) {
                restoredMax = current;
            }
            long next = (current == null ? 0L : current) + 1L;
            count.update(next);
            if (next > maxCount) {
                maxCount = next;
            }
            out.collect(next);
        }
    }
}
