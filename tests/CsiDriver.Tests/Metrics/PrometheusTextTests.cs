using CsiDriver.Metrics;

namespace CsiDriver.Tests.Metrics;

public sealed class PrometheusTextTests
{
    [Fact]
    public void A_family_is_help_type_then_samples_each_ending_in_a_line_feed()
    {
        var text = PrometheusText.Render(
        [
            new MetricFamily("formation_lag_seconds", "Replication lag.", MetricType.Gauge,
                [MetricSample.Of(0.25, ("replication", "vg-orders"))]),
        ]);

        Assert.Equal(
            "# HELP formation_lag_seconds Replication lag.\n"
            + "# TYPE formation_lag_seconds gauge\n"
            + "formation_lag_seconds{replication=\"vg-orders\"} 0.25\n",
            text);
    }

    [Fact]
    public void Label_values_escape_backslash_quote_and_line_feed_and_help_escapes_backslash_and_line_feed()
    {
        var text = PrometheusText.Render(
        [
            new MetricFamily("formation_state", "Line one\nC:\\path \"quoted\"", MetricType.Gauge,
                [MetricSample.Of(1, ("message", "peer \"b\" at C:\\x\nretrying"))]),
        ]);

        var lines = text.Split('\n');
        // Help keeps double quotes as they are: the format escapes only \ and line feed there.
        Assert.Equal("# HELP formation_state Line one\\nC:\\\\path \"quoted\"", lines[0]);
        Assert.Equal("formation_state{message=\"peer \\\"b\\\" at C:\\\\x\\nretrying\"} 1", lines[2]);
        Assert.Equal(4, lines.Length);
        Assert.Equal("", lines[3]);
    }

    [Fact]
    public void Families_come_in_name_order_and_samples_in_label_order_whatever_order_they_are_given()
    {
        MetricFamily Family(string name, params string[] ids) =>
            new(name, "h", MetricType.Counter, ids.Select(id => MetricSample.Of(1, ("replication", id))).ToArray());

        var text = PrometheusText.Render([Family("formation_b_total", "vg-2", "vg-1"), Family("formation_a_total", "vol-9", "vg-3")]);

        var samples = text.Split('\n').Where(l => l.Length > 0 && !l.StartsWith('#')).ToArray();
        Assert.Equal(
        [
            "formation_a_total{replication=\"vg-3\"} 1",
            "formation_a_total{replication=\"vol-9\"} 1",
            "formation_b_total{replication=\"vg-1\"} 1",
            "formation_b_total{replication=\"vg-2\"} 1",
        ], samples);
        Assert.Contains("# TYPE formation_a_total counter\n", text);
        Assert.True(text.IndexOf("# TYPE formation_a_total", StringComparison.Ordinal) < text.IndexOf("formation_a_total{", StringComparison.Ordinal));
    }

    [Fact]
    public void Values_are_written_as_Prometheus_reads_them()
    {
        Assert.Equal("NaN", PrometheusText.FormatValue(double.NaN));
        Assert.Equal("+Inf", PrometheusText.FormatValue(double.PositiveInfinity));
        Assert.Equal("-Inf", PrometheusText.FormatValue(double.NegativeInfinity));
        Assert.Equal("1234567890123", PrometheusText.FormatValue(1234567890123));
        Assert.Equal("-0.5", PrometheusText.FormatValue(-0.5));
        Assert.Equal(0.1 + 0.2, double.Parse(PrometheusText.FormatValue(0.1 + 0.2), System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void A_sample_without_labels_has_no_braces()
    {
        var text = PrometheusText.Render([new MetricFamily("formation_driver_ready", "Ready.", MetricType.Gauge, [MetricSample.Of(1)])]);

        Assert.EndsWith("\nformation_driver_ready 1\n", text);
    }

    [Theory]
    [InlineData("9lives", "replication")]
    [InlineData("formation-lag", "replication")]
    [InlineData("formation_lag", "repl:id")]
    [InlineData("formation_lag", "")]
    public void Invalid_names_are_refused_rather_than_written(string metric, string label)
    {
        var family = new MetricFamily(metric, "h", MetricType.Gauge, [MetricSample.Of(1, (label, "x"))]);

        Assert.Throws<ArgumentException>(() => PrometheusText.Render([family]));
    }

    [Fact]
    public void A_family_given_twice_is_refused()
    {
        var family = new MetricFamily("formation_x", "h", MetricType.Gauge, [MetricSample.Of(1)]);

        Assert.Throws<ArgumentException>(() => PrometheusText.Render([family, family]));
    }
}
