// The manual-grading page (grades/manual.html): grade one question across all students at a time. Reads the
// embedded data (script#manual-data), keeps every score and comment in this browser's localStorage, and
// exports manual.csv (student_id,item,score,comment) for `hw2-grade finalize DIR --manual manual.csv`.
// Student text is only ever set as textContent, never parsed as HTML.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("manual-data").textContent);
  const storeKey = "hw2-grade manual grading " + data.page;
  const sep = "\u0000";
  let saved = {};
  try {
    saved = JSON.parse(window.localStorage.getItem(storeKey) || "{}") || {};
  } catch (err) {
    saved = {};
  }
  const state = {};
  const inputs = [];

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function problemOf(value, max) {
    const text = value.trim();
    if (text === "") return "";
    if (!/^[0-9]+([.][0-9]+)?$|^[.][0-9]+$/.test(text)) return "not a number";
    const x = Number(text);
    if (!(x >= 0 && x <= max)) return "must be between 0 and " + max;
    return "";
  }

  function save() {
    try {
      window.localStorage.setItem(storeKey, JSON.stringify(state));
      setStatus("saved", "Saved in this browser.");
    } catch (err) {
      setStatus("bad", "Not saved: this browser refused local storage (" + err.message + ").");
    }
  }

  function setStatus(tone, text) {
    const status = document.getElementById("status");
    status.className = "status " + tone;
    status.textContent = text;
  }

  function refreshProgress() {
    for (const item of data.items) {
      const done = item.students.filter((s) => {
        const v = state[s.id + sep + item.number].score;
        return v.trim() !== "" && problemOf(v, item.points) === "";
      }).length;
      document.getElementById("progress-" + item.number).textContent = done + " of " + item.students.length + " scored";
    }
  }

  function card(item, student) {
    const key = student.id + sep + item.number;
    const entry = saved[key] && typeof saved[key] === "object" ? saved[key] : {};
    state[key] = {
      score: typeof entry.score === "string" ? entry.score : (student.score === null ? "" : String(student.score)),
      comment: typeof entry.comment === "string" ? entry.comment : (student.comment || ""),
    };
    const box = el("article", {"class": "card", "data-student": student.id, "data-item": item.number});
    const head = el("header");
    head.appendChild(el("span", {"class": "sid"}, student.id));
    if (student.report) {
      const link = el("a", {"href": student.report}, "report");
      head.appendChild(link);
    }
    box.appendChild(head);
    if (item.kind === "review") {
      box.appendChild(el("p", {"class": "label"}, "Measured, not verified: as measured it would earn " +
        student.proposed + " of " + item.points + "."));
      box.appendChild(el("pre", {"class": "answer"}, student.text));
    } else {
      box.appendChild(el("p", {"class": "label"}, "Student's answer"));
      box.appendChild(student.text ? el("pre", {"class": "answer"}, student.text) : el("p", {"class": "missing"}, "No answer given."));
    }
    const row = el("div", {"class": "inputs"});
    const scoreId = "score-" + item.number + "-" + student.id;
    row.appendChild(el("label", {"for": scoreId}, "Score (0–" + item.points + ")"));
    const score = el("input", {"id": scoreId, "class": "score", "type": "text", "inputmode": "decimal",
                               "autocomplete": "off", "data-max": String(item.points)});
    score.value = state[key].score;
    const error = el("span", {"class": "error", "role": "alert"});
    const comment = el("textarea", {"class": "comment", "rows": "2", "placeholder": "comment for the student (optional)",
                                    "aria-label": "comment on " + item.number + " for " + student.id});
    comment.value = state[key].comment;
    function check() {
      const why = problemOf(score.value, item.points);
      error.textContent = why;
      score.classList.toggle("invalid", why !== "");
      return why === "";
    }
    score.addEventListener("input", () => { state[key].score = score.value; check(); refreshProgress(); save(); });
    comment.addEventListener("input", () => { state[key].comment = comment.value; save(); });
    inputs.push({check: check, score: score});
    check();
    row.appendChild(score);
    row.appendChild(error);
    box.appendChild(row);
    box.appendChild(comment);
    return box;
  }

  function csvField(text) {
    return /[",\r\n]|^\s|\s$/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
  }

  function exportCsv() {
    const invalid = inputs.filter((i) => !i.check());
    if (invalid.length) {
      setStatus("bad", "Not exported: fix the " + invalid.length + " invalid score" + (invalid.length === 1 ? "" : "s") +
        " (marked red) first.");
      invalid[0].score.focus();
      return;
    }
    const lines = ["student_id,item,score,comment"];
    for (const item of data.items) {
      for (const s of item.students) {
        const v = state[s.id + sep + item.number];
        if (v.score.trim() === "") continue;
        lines.push([s.id, item.number, v.score.trim(), v.comment].map(csvField).join(","));
      }
    }
    const blob = new Blob([lines.join("\r\n") + "\r\n"], {type: "text/csv;charset=utf-8"});
    const link = el("a", {"href": URL.createObjectURL(blob), "download": "manual.csv"});
    document.body.appendChild(link);
    link.click();
    link.remove();
    setStatus("saved", "Exported " + (lines.length - 1) + " scores to manual.csv. Merge them with: hw2-grade finalize " +
      data.out + " --manual manual.csv");
  }

  const root = document.getElementById("items");
  for (const item of data.items) {
    const section = el("section", {"class": "item", "id": "item-" + item.number});
    const title = el("h2", {}, item.number + " " + item.name + " (" + item.points + " points" +
      (item.kind === "review" ? ", under review" : "") + ")");
    section.appendChild(title);
    section.appendChild(el("p", {"class": "progress", "id": "progress-" + item.number}));
    for (const student of item.students) section.appendChild(card(item, student));
    root.appendChild(section);
  }
  if (!data.items.length) root.appendChild(el("p", {"class": "missing"}, "Nothing to grade by hand: no manual item or item under review."));
  refreshProgress();
  document.getElementById("export").addEventListener("click", exportCsv);
  document.getElementById("forget").addEventListener("click", () => {
    window.localStorage.removeItem(storeKey);
    setStatus("saved", "Forgotten: reload the page to start again from the last merged scores.");
  });
})();
