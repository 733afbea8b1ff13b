/**
 * The report page's own script: draws each section's plots with uPlot from the JSON data block.
 * Plain ES2017 in a string (it runs in the browser, not in Node). Every label it shows comes from
 * that data and reaches the page only through uPlot, which writes labels with textContent.
 */
export const PAGE_SCRIPT = `
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('report-data').textContent);
  // The first colour is the one the browser test looks for in every plot.
  var PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];
  var fmtMs = function (v) { return v == null ? '-' : (v < 1 ? v.toFixed(3) : v < 100 ? v.toFixed(2) : v.toFixed(0)) + ' ms'; };
  var fmtRate = function (v) { return v == null ? '-' : v.toFixed(1) + '/s'; };
  var pctLabel = function (x) {
    var p = 100 * (1 - 1 / x);
    if (p <= 0) return '0%';
    var digits = Math.max(0, Math.round(Math.log10(x)) - 2);
    return p.toFixed(digits) + '%';
  };
  var width = function (el) { return Math.max(320, Math.min(1100, (el.clientWidth || 900) - 8)); };

  function series(list, fmt, dash) {
    return list.map(function (s, i) {
      return { label: s.label, stroke: PALETTE[i % PALETTE.length], width: 2, dash: s.dash ? [6, 4] : undefined, value: function (u, v) { return fmt(v); }, spanGaps: false };
    });
  }

  // A ramp's stage boundaries as dashed vertical lines (drawn on uPlot's canvas after the series).
  function stageLines(marks) {
    return function (u) {
      if (!marks || marks.length === 0) return;
      var ctx = u.ctx;
      ctx.save();
      ctx.strokeStyle = '#555';
      ctx.lineWidth = 1;
      ctx.setLineDash([4, 4]);
      marks.forEach(function (m) {
        if (m < u.scales.x.min || m > u.scales.x.max) return;
        var x = Math.round(u.valToPos(m, 'x', true));
        ctx.beginPath();
        ctx.moveTo(x, u.bbox.top);
        ctx.lineTo(x, u.bbox.top + u.bbox.height);
        ctx.stroke();
      });
      ctx.restore();
    };
  }

  function plot(el, opts, xs, list, fmt) {
    var all = [xs].concat(list.map(function (s) { return s.values; }));
    opts.width = width(el);
    opts.height = 300;
    opts.series = [opts.xSeries].concat(series(list, fmt));
    delete opts.xSeries;
    return new uPlot(opts, all, el);
  }

  data.sections.forEach(function (s, i) {
    var pctEl = document.getElementById('plot-pct-' + i);
    if (pctEl && s.pct) {
      plot(pctEl, {
        title: 'Latency by percentile (x: 1/(1-percentile), log scale)',
        scales: { x: { time: false, distr: 3, log: 10 }, y: { range: function (u, min, max) { return [0, max > 0 ? max * 1.05 : 1]; } } },
        axes: [
          {
            label: 'percentile',
            splits: function (u) {
              var out = [];
              for (var v = 1; v <= u.scales.x.max * 1.0001; v *= 10) out.push(v);
              return out;
            },
            values: function (u, splits) { return splits.map(pctLabel); },
          },
          { label: 'latency (ms)', size: 70 },
        ],
        xSeries: { label: 'percentile', value: function (u, v) { return v == null ? '-' : pctLabel(v); } },
      }, s.pct.x, s.pct.series, fmtMs);
    }
    var latEl = document.getElementById('plot-latency-' + i);
    if (latEl && s.time) {
      plot(latEl, {
        title: 'Latency over time (calls answered in each second; warm-up excluded)',
        scales: { x: { time: false } },
        axes: [{ label: 'seconds since the run started' }, { label: 'latency (ms)', size: 70 }],
        hooks: { draw: [stageLines(s.time.marks)] },
        xSeries: { label: 's', value: function (u, v) { return v == null ? '-' : v.toFixed(1) + ' s'; } },
      }, s.time.x, s.time.latency, fmtMs);
    }
    var rateEl = document.getElementById('plot-rate-' + i);
    if (rateEl && s.time) {
      plot(rateEl, {
        title: 'Throughput over time (per second; warm-up excluded)',
        scales: { x: { time: false } },
        axes: [{ label: 'seconds since the run started' }, { label: 'calls/s', size: 70 }],
        hooks: { draw: [stageLines(s.time.marks)] },
        xSeries: { label: 's', value: function (u, v) { return v == null ? '-' : v.toFixed(1) + ' s'; } },
      }, s.time.x, s.time.rate, fmtRate);
    }
  });
  document.body.setAttribute('data-plots', 'drawn');
})();
`;
