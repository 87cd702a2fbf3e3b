// Chat templates rendered as transformers renders them. Real templates (tests/data/chat_templates,
// each with its source) are rendered here and by @huggingface/jinja, the renderer transformers.js
// uses, then tokenized here and by Hugging Face's tokenizers (Rust): text and ids must match, with
// and without a system message. The renderer's own rules are pinned on small templates whose
// output Python's Jinja gives (written out below).
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QtTest>

#include <filesystem>
#include <fstream>
#include <functional>

#include "core/error.h"
#include "core/jinja/template.h"
#include "core/model/chat_template.h"
#include "core/model/tokenizer.h"
#include "tests/error_text.h"
#include "tests/time_scale.h"

namespace {

const QString kRoot = QStringLiteral(SQ_SOURCE_DIR);
const QString kNodeDir = kRoot + QStringLiteral("/tests/chat_templates");
const std::string kUser = "  How do I kill a Python process?\nAnswer briefly. ";
const std::string kSystem = "You are a careful assistant.";

std::string render(const std::string& source, const sq::jinja::Dict& context = {}) {
  return sq::jinja::Template(source).render(context);
}

}  // namespace

class TestChatTemplate : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  // Each case's expected text is what Python's Jinja prints under transformers' settings
  // (trim_blocks, lstrip_blocks).
  void rendererRules_data() {
    QTest::addColumn<QString>("source");
    QTest::addColumn<QString>("expected");
    QTest::newRow("trim_blocks") << "{% if true %}\nyes\n{% endif %}\nend" << "yes\nend";
    QTest::newRow("lstrip_blocks") << "a\n    {% if true %}b{% endif %}\n" << "a\nb";
    QTest::newRow("minus") << "a   {{- 'b' -}}   c" << "abc";
    QTest::newRow("plus keeps") << "a\n  {%+ if true %}b{% endif %}" << "a\n  b";
    QTest::newRow("comment") << "a{# no #}b\n{#- x -#}\nc" << "abc";
    QTest::newRow("loop") << "{% for x in ['a','b','c'] %}{{ loop.index }}{{ x }}{{ ',' if not loop.last }}{% endfor %}"
                          << "1a,2b,3c";
    QTest::newRow("loop filter and else") << "{% for x in [1,2,3,4] if x is even %}{{ x }}{{ loop.length }}{% else %}none{% endfor %}"
                                          << "2242";
    QTest::newRow("loop else") << "{% for x in [] %}x{% else %}none{% endfor %}" << "none";
    QTest::newRow("break continue") << "{% for x in range(10) %}{% if x == 1 %}{% continue %}{% endif %}{% if x > 3 %}{% break %}{% endif %}{{ x }}{% endfor %}"
                                    << "023";
    QTest::newRow("scoping") << "{% set a = 1 %}{% for x in [1] %}{% set a = 2 %}{% endfor %}{{ a }}" << "1";
    QTest::newRow("namespace") << "{% set ns = namespace(n=0) %}{% for x in [1,2] %}{% set ns.n = ns.n + x %}{% endfor %}{{ ns.n }}"
                               << "3";
    QTest::newRow("macro") << "{% macro m(a, b='y') %}[{{ a }}{{ b }}]{% endmacro %}{{ m('x') }}{{ m('p', b='q') }}" << "[xy][pq]";
    QTest::newRow("slices") << "{{ 'abcdef'[1:3] }}{{ 'abc'[::-1] }}{{ [1,2,3][:-1] }}{{ 'héllo'[1] }}" << "bccba[1, 2]é";
    QTest::newRow("python str") << "{{ none }} {{ true }} {{ 1.0 }} {{ 2.5 }} {{ ['a', 1] }} {{ {'k': none} }}"
                                << "None True 1.0 2.5 ['a', 1] {'k': None}";
    QTest::newRow("tojson") << "{{ {'a': [1, 'x\"y'], 'b': none} | tojson }}|{{ [1] | tojson(indent=2) }}"
                            << "{\"a\": [1, \"x\\\"y\"], \"b\": null}|[\n  1\n]";
    QTest::newRow("filters") << "{{ ' x ' | trim }}{{ ['a','b'] | join('-') }}{{ 'Ab' | upper }}{{ 'Ab' | lower }}{{ [1,2] | length }}{{ u | default('d') }}"
                             << "xa-bABab2d";
    QTest::newRow("select") << "{{ [1,2,3,4] | select('odd') | list }}{{ [{'r':'a'},{'r':'b'}] | selectattr('r', 'equalto', 'b') | map(attribute='r') | join }}{{ ['x','y'] | reject('equalto','x') | first }}"
                            << "[1, 3]by";
    QTest::newRow("items") << "{% for k, v in {'a': 1, 'b': 2} | items %}{{ k }}={{ v }};{% endfor %}{% for k, v in {'c': 3}.items() %}{{ k }}{{ v }}{% endfor %}"
                           << "a=1;b=2;c3";
    QTest::newRow("tests") << "{{ x is defined }}{{ none is none }}{{ 'a' is string }}{{ {} is mapping }}{{ 'a' is iterable }}{{ 3 is divisibleby 3 }}{{ 1 is not string }}"
                           << "FalseTrueTrueTrueTrueTrueTrue";
    QTest::newRow("methods") << "{{ ' a b '.strip() }}|{{ 'a,b'.split(',') }}|{{ 'x</think>y'.split('</think>')[-1] }}|{{ 'abc'.startswith('ab') }}|{{ '\\nq'.lstrip('\\n') }}|{{ {'a': 1}.get('b', 2) }}"
                             << "a b|['a', 'b']|y|True|q|2";
    QTest::newRow("operators") << "{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -1 % 3 }} {{ 7 / 2 }} {{ 'a' ~ 1 }} {{ 'ab' in 'cabd' }} {{ 2 ** 3 }} {{ 1 if false else 2 }}"
                               << "3 -4 1 2 3.5 a1 True 8 2";
    QTest::newRow("and or") << "{{ 0 or 'x' }}{{ 1 and 'y' }}{{ not 0 }}{{ 'a' not in ['b'] }}" << "xyTrueTrue";
    QTest::newRow("set block") << "{% set b %}in{{ 1 }}{% endset %}[{{ b }}]" << "[in1]";
    QTest::newRow("dict equality") << "{{ {'a': 1, 'b': 2} == {'b': 2, 'a': 1} }}{{ [1] == [1.0] }}" << "TrueTrue";
    QTest::newRow("string with closers") << "{{- \"}}\" }}{{ '%}' }}" << "}}%}";
    QTest::newRow("trailing newline") << "a\n" << "a";
  }
  void rendererRules() {
    QFETCH(QString, source);
    QFETCH(QString, expected);
    QCOMPARE(QString::fromStdString(render(source.toStdString())), expected);
  }

  // Features it lacks are refused whole, before rendering, with their name and line.
  void unsupportedFeaturesAreRefusedWithTheLine() {
    const QString include = errorOf([] { render("a\n\n{% include 'other.jinja' %}"); });
    QVERIFY2(include.contains(QStringLiteral("line 3")) && include.contains(QStringLiteral("'include' statement")), qPrintable(include));
    try {
      sq::jinja::Template("{{ x | wordwrap(3) }}");
      QFAIL("accepted");
    } catch (const sq::jinja::JinjaError& e) {
      QVERIFY(e.unsupported());
      QCOMPARE(e.line(), 1);
      QVERIFY(QString::fromStdString(e.message()).contains(QStringLiteral("wordwrap")));
    }
    const QString test = errorOf([] { render("\n{% if x is escaped %}{% endif %}"); });
    QVERIFY2(test.contains(QStringLiteral("line 2")) && test.contains(QStringLiteral("escaped")), qPrintable(test));
    // A model whose template is refused renders nothing: the error names the file, the feature,
    // the line and the way out.
    QTemporaryDir dir;
    std::ofstream(dir.filePath(QStringLiteral("tokenizer_config.json")).toStdString())
        << R"({"chat_template": "{% for m in messages %}\n{% filter upper %}{{ m.content }}{% endfilter %}{% endfor %}"})";
    const sq::ChatTemplate t = sq::detect_chat_template(dir.path().toStdString());
    const QString refused = errorOf([&] { t.render("hi"); });
    QVERIFY2(refused.contains(QStringLiteral("tokenizer_config.json")) && refused.contains(QStringLiteral("'filter' statement")) &&
                 refused.contains(QStringLiteral("line 2")) && refused.contains(QStringLiteral("--chat-template")),
             qPrintable(refused));
  }

  void errorsAndBounds() {
    QVERIFY(errorOf([] { render("{% if %}"); }).contains(QStringLiteral("line 1")));
    QVERIFY(errorOf([] { render("{% for x in y %}"); }).contains(QStringLiteral("endfor")));
    QVERIFY(errorOf([] { render("{{ 'a' + 1 }}"); }).contains(QStringLiteral("string")));
    QVERIFY(errorOf([] { render("{{ raise_exception('no system role') }}"); }).contains(QStringLiteral("no system role")));
    // Hostile templates end with an error, not by taking the machine.
    QVERIFY(errorOf([] { render("{% for i in range(100000000) %}{% endfor %}"); }).contains(QStringLiteral("range")));
    QVERIFY(errorOf([] { render("{{ 'x' * 100000000 }}"); }).contains(QStringLiteral("16 MB")));
    QVERIFY(errorOf([] { render("{% for i in range(1000000) %}{{ 'abcdefghijklmnopqrstuvwxyz' }}{% endfor %}"); }).contains(QStringLiteral("16 MB")));
    QVERIFY(errorOf([] { render("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}"); }).contains(QStringLiteral("64 deep")));
  }

  void systemAndDate() {
    const std::string dir = (kRoot + QStringLiteral("/tests/data/chat_templates/llama-3.2-1b-instruct")).toStdString();
    const sq::ChatTemplate t = sq::detect_chat_template(dir);
    QCOMPARE(QString::fromStdString(t.name()), QStringLiteral("model"));
    const std::string text = t.render("Hi", "Be brief.", "2024-07-26");
    QVERIFY(text.find("Today Date: 26 Jul 2024\n\nBe brief.<|eot_id|>") != std::string::npos);
    QVERIFY_THROWS_EXCEPTION(sq::Error, sq::chat_date_or_today("2024-02-30"));
    QVERIFY_THROWS_EXCEPTION(sq::Error, sq::chat_date_or_today("26 Jul 2024"));
    QCOMPARE(QString::fromStdString(sq::chat_date_or_today("2024-02-29")), QStringLiteral("2024-02-29"));
    // Llama-3.1's template has its own fixed date: the pinned one does not enter it.
    const sq::ChatTemplate l31 = sq::detect_chat_template((kRoot + QStringLiteral("/tests/data/chat_templates/llama-3.1-8b-instruct")).toStdString());
    QVERIFY(l31.render("Hi", "", "2030-01-01").find("Today Date: 26 Jul 2024") != std::string::npos);
    // The built-in formats are the user's explicit choice, and take the system message too.
    QCOMPARE(QString::fromStdString(sq::user_chat_template("chatml").render("x", "s")),
             QStringLiteral("<|im_start|>system\ns<|im_end|>\n<|im_start|>user\nx<|im_end|>\n<|im_start|>assistant\n"));
    QCOMPARE(QString::fromStdString(sq::user_chat_template("Q: {prompt}\nA:").render("why?")), QStringLiteral("Q: why?\nA:"));
    QVERIFY_THROWS_EXCEPTION(sq::Error, sq::user_chat_template("no placeholder"));
    // No template: raw, with a warning naming the file.
    QTemporaryDir empty;
    std::ofstream(empty.filePath(QStringLiteral("tokenizer_config.json")).toStdString()) << "{}";
    const sq::ChatTemplate raw = sq::detect_chat_template(empty.path().toStdString());
    QCOMPARE(QString::fromStdString(raw.render("q")), QStringLiteral("q"));
    QVERIFY(QString::fromStdString(raw.warning).contains(QStringLiteral("tokenizer_config.json")));
    // The list form: the template named "default".
    QTemporaryDir listed;
    std::ofstream(listed.filePath(QStringLiteral("tokenizer_config.json")).toStdString())
        << R"({"chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D{{ messages[0].content }}"}]})";
    QCOMPARE(QString::fromStdString(sq::detect_chat_template(listed.path().toStdString()).render("q")), QStringLiteral("Dq"));
  }

  // The ten real templates, text and token ids, against transformers.js's renderer and Hugging
  // Face's tokenizers.
  void realTemplatesMatchTheReference() {
    if (!QFile::exists(kNodeDir + QStringLiteral("/node_modules/@huggingface/jinja")))
      QSKIP("the reference renderer is not installed: packaging/install-deps.sh installs it from the npm registry, which it could not reach");
    QProcess node;
    node.setWorkingDirectory(kNodeDir);
    node.start(QStringLiteral("node"), {QStringLiteral("render.mjs"), kRoot, QString::fromStdString(kUser), QString::fromStdString(kSystem)});
    QVERIFY(node.waitForFinished(scaledMs(120000)));
    QVERIFY2(node.exitCode() == 0, node.readAllStandardError().constData());
    const QJsonObject ref = QJsonDocument::fromJson(node.readAllStandardOutput()).object();
    std::ifstream list((kRoot + QStringLiteral("/tests/data/chat_templates/templates.json")).toStdString());
    const QJsonObject fixtures =
        QJsonDocument::fromJson(QByteArray::fromStdString(std::string(std::istreambuf_iterator<char>(list), {}))).object();
    QCOMPARE(fixtures.size(), 10);
    QCOMPARE(ref.size(), fixtures.size());
    const std::string today = sq::chat_date_or_today("");
    int compared = 0;
    for (auto it = fixtures.begin(); it != fixtures.end(); ++it) {
      const QJsonObject f = it.value().toObject();
      const QString dir = kRoot + QLatin1Char('/') + f.value(QStringLiteral("dir")).toString(QStringLiteral("tests/data/chat_templates/") + it.key());
      const QString spec = f.value(QStringLiteral("tokenizer")).toString();
      const QString tok_path = spec.startsWith(QStringLiteral("npm:")) ? kNodeDir + QStringLiteral("/node_modules/") + spec.mid(4)
                                                                       : kRoot + QLatin1Char('/') + spec;
      const sq::ChatTemplate t = sq::detect_chat_template(dir.toStdString());
      QVERIFY2(t.refused.empty(), t.refused.c_str());
      const sq::Tokenizer tok = sq::Tokenizer::load(tok_path.toStdString());
      for (const QString& variant : {QStringLiteral("user"), QStringLiteral("system")}) {
        const QJsonObject r = ref.value(it.key()).toObject().value(variant).toObject();
        const std::string system = variant == QStringLiteral("system") ? kSystem : "";
        const QString what = it.key() + QLatin1Char('/') + variant;
        if (r.contains(QStringLiteral("error"))) {
          const QString ours = errorOf([&] { t.render(kUser, system, today); });
          QVERIFY2(ours.contains(r.value(QStringLiteral("error")).toString()), qPrintable(what + QStringLiteral(": ") + ours));
          continue;
        }
        const std::string text = t.render(kUser, system, today);
        QVERIFY2(QString::fromStdString(text) == r.value(QStringLiteral("text")).toString(),
                 qPrintable(what + QStringLiteral("\nours: ") + QString::fromStdString(text) + QStringLiteral("\nref:  ") +
                            r.value(QStringLiteral("text")).toString()));
        QJsonArray ids;
        for (int32_t id : tok.encode(text, false)) ids.append(id);
        QVERIFY2(ids == r.value(QStringLiteral("ids")).toArray(), qPrintable(what + QStringLiteral(": token ids differ")));
        ++compared;
      }
    }
    QCOMPARE(compared, 19);  // Mistral v0.1 refuses a system message, in both renderers
  }
};

QTEST_GUILESS_MAIN(TestChatTemplate)
#include "tst_chat_template.moc"
