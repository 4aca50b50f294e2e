/*
 * Show and hide form sections and fields as the user types (qmsflow).
 *
 * A required mark with a data-required-if attribute is shown while its condition holds.
 *
 * Every element with a data-show-if attribute inside a form[data-qmsflow-form] is shown when
 * its condition holds for the current values and hidden otherwise; the inputs of a hidden
 * element are disabled, so their values are not posted (the server ignores hidden fields
 * too). The condition is a JSON tree made by qmsflow.forms.client_condition and is evaluated
 * here with the semantics of Python's Jinja evaluation on the server: none == none, 'x' in a
 * list, empty text, list and 0 are false, comparing text with a number fails. A condition
 * that fails to evaluate shows its element: when in doubt, show, and let the server decide.
 *
 * Values: editable fields are read from their inputs (wrappers carry data-field and
 * data-type); everything else a condition reads comes from the form's data-values JSON.
 *
 * No dependencies and no build step. Under node, module.exports gives the evaluator
 * (evaluate, test, truthy, UNDEFINED) so tests can compare it with Python.
 */
(function () {
  'use strict';

  // Jinja's Undefined: what reading a missing attribute gives. It differs from none.
  var UNDEFINED = { toString: function () { return 'undefined'; } };

  function fail(message) {
    var error = new Error(message);
    error.name = 'EvaluationError';
    throw error;
  }

  function isNumber(value) {
    // Python's bool is an int: True == 1, True + 1 == 2.
    return typeof value === 'number' || typeof value === 'boolean';
  }

  // Python tells a tuple literal (1, 2) from a list [1, 2]: they are never equal.
  function asTuple(items) {
    Object.defineProperty(items, 'qmsflowTuple', { value: true });
    return items;
  }

  function sameSequenceKind(left, right) {
    return Boolean(left.qmsflowTuple) === Boolean(right.qmsflowTuple);
  }

  function isMapping(value) {
    return value !== null && value !== UNDEFINED && typeof value === 'object' &&
      !Array.isArray(value);
  }

  function truthy(value) {
    if (value === null || value === undefined || value === UNDEFINED) return false;
    if (typeof value === 'boolean') return value;
    if (typeof value === 'number') return value !== 0;
    if (typeof value === 'string' || Array.isArray(value)) return value.length > 0;
    if (isMapping(value)) return Object.keys(value).length > 0;
    return true;
  }

  function equal(left, right) {
    if (left === UNDEFINED || right === UNDEFINED) return left === right;
    if (left === null || right === null) return left === right;
    if (isNumber(left) && isNumber(right)) return Number(left) === Number(right);
    if (typeof left === 'string' && typeof right === 'string') return left === right;
    if (Array.isArray(left) && Array.isArray(right)) {
      if (!sameSequenceKind(left, right) || left.length !== right.length) return false;
      for (var i = 0; i < left.length; i++) if (!equal(left[i], right[i])) return false;
      return true;
    }
    if (isMapping(left) && isMapping(right)) {
      var keys = Object.keys(left);
      if (keys.length !== Object.keys(right).length) return false;
      for (var k = 0; k < keys.length; k++) {
        if (!Object.prototype.hasOwnProperty.call(right, keys[k]) ||
            !equal(left[keys[k]], right[keys[k]])) return false;
      }
      return true;
    }
    return false;
  }

  // -1, 0 or 1 like Python's ordering; fails where Python raises TypeError.
  function order(left, right) {
    if (isNumber(left) && isNumber(right)) {
      var a = Number(left), b = Number(right);
      return a < b ? -1 : (a > b ? 1 : 0);
    }
    if (typeof left === 'string' && typeof right === 'string') {
      return left < right ? -1 : (left > right ? 1 : 0);
    }
    if (Array.isArray(left) && Array.isArray(right) && sameSequenceKind(left, right)) {
      for (var i = 0; i < Math.min(left.length, right.length); i++) {
        if (!equal(left[i], right[i])) return order(left[i], right[i]);
      }
      return left.length < right.length ? -1 : (left.length > right.length ? 1 : 0);
    }
    return fail('cannot order ' + String(left) + ' and ' + String(right));
  }

  function contains(container, item) {
    if (Array.isArray(container)) {
      for (var i = 0; i < container.length; i++) if (equal(container[i], item)) return true;
      return false;
    }
    if (typeof container === 'string') {
      if (typeof item !== 'string') fail("'in <string>' requires text on the left");
      return container.indexOf(item) !== -1;
    }
    if (isMapping(container)) {
      if (Array.isArray(item) || isMapping(item)) fail('unhashable value');
      return typeof item === 'string' &&
        Object.prototype.hasOwnProperty.call(container, item);
    }
    if (container === UNDEFINED) return false;  // Jinja's Undefined is an empty container
    return fail('argument is not a container');
  }

  function compare(op, left, right) {
    switch (op) {
      case 'eq': return equal(left, right);
      case 'ne': return !equal(left, right);
      case 'lt': return order(left, right) < 0;
      case 'lteq': return order(left, right) <= 0;
      case 'gt': return order(left, right) > 0;
      case 'gteq': return order(left, right) >= 0;
      case 'in': return contains(right, left);
      case 'notin': return !contains(right, left);
    }
    return fail('unknown comparison ' + op);
  }

  function arithmetic(op, left, right) {
    if (op === 'add') {
      if (typeof left === 'string' && typeof right === 'string') return left + right;
      if (Array.isArray(left) && Array.isArray(right) && sameSequenceKind(left, right)) {
        var joined = left.concat(right);
        return left.qmsflowTuple ? asTuple(joined) : joined;
      }
    }
    if (!isNumber(left) || !isNumber(right)) fail('unsupported operand types for ' + op);
    var a = Number(left), b = Number(right);
    switch (op) {
      case 'add': return a + b;
      case 'sub': return a - b;
      case 'mul': return a * b;
      case 'div':
        if (b === 0) fail('division by zero');
        return a / b;
    }
    return fail('unknown operator ' + op);
  }

  function lookup(values, name) {
    // The engine passes every name an expression reads, None when it has no value.
    if (values && Object.prototype.hasOwnProperty.call(values, name)) {
      var value = values[name];
      return value === undefined ? null : value;
    }
    return null;
  }

  function evaluate(node, values) {
    switch (node.op) {
      case 'const': return node.value;
      case 'name': return lookup(values, node.name);
      case 'list': {
        var items = node.items.map(function (item) { return evaluate(item, values); });
        return node.tuple ? asTuple(items) : items;
      }
      case 'attr': {
        var target = evaluate(node.node, values);
        if (target === null || target === UNDEFINED) return UNDEFINED;
        if (isMapping(target)) {
          return Object.prototype.hasOwnProperty.call(target, node.name) ?
            target[node.name] : UNDEFINED;
        }
        return fail('attributes of ' + typeof target + ' are not known here');
      }
      case 'compare': {
        var left = evaluate(node.node, values);
        for (var i = 0; i < node.rest.length; i++) {
          var right = evaluate(node.rest[i][1], values);
          if (!compare(node.rest[i][0], left, right)) return false;
          left = right;
        }
        return true;
      }
      case 'and': {
        var first = evaluate(node.left, values);
        return truthy(first) ? evaluate(node.right, values) : first;
      }
      case 'or': {
        var either = evaluate(node.left, values);
        return truthy(either) ? either : evaluate(node.right, values);
      }
      case 'not': return !truthy(evaluate(node.node, values));
      case 'neg':
      case 'pos': {
        var operand = evaluate(node.node, values);
        if (!isNumber(operand)) fail('bad operand type for unary ' + node.op);
        return node.op === 'neg' ? -Number(operand) : Number(operand);
      }
      case 'add':
      case 'sub':
      case 'mul':
      case 'div': {
        var a = evaluate(node.left, values);
        var b = evaluate(node.right, values);
        if (a === UNDEFINED || b === UNDEFINED) fail('undefined value');
        return arithmetic(node.op, a, b);
      }
      case 'test': {
        var tested = evaluate(node.node, values);
        if (node.test === 'none') return tested === null;
        if (node.test === 'defined') return tested !== UNDEFINED;
        return fail('unknown test ' + node.test);
      }
    }
    return fail('unknown node ' + node.op);
  }

  // What Expression.test gives: the truth of the value (Jinja turns a top-level undefined
  // into none).
  function test(node, values) {
    return truthy(evaluate(node, values));
  }

  var api = { evaluate: evaluate, test: test, truthy: truthy, UNDEFINED: UNDEFINED };
  if (typeof module !== 'undefined' && module.exports) module.exports = api;
  if (typeof document === 'undefined') return;

  // --- the browser part -------------------------------------------------------------------

  var MARK = 'data-qmsflow-disabled';  // inputs this script disabled, and only those

  function controls(element) {
    return Array.prototype.slice.call(element.querySelectorAll('input, select, textarea'));
  }

  function readField(wrapper, stored) {
    var name = wrapper.getAttribute('data-field');
    var inputs = controls(wrapper).filter(function (input) { return input.name === name; });
    if (!inputs.length) return undefined;  // shown read-only: the stored value counts
    if (inputs.some(function (input) { return input.hasAttribute(MARK); })) return null;
    var type = wrapper.getAttribute('data-type');
    if (type === 'multi_choice') {
      var chosen = inputs.filter(function (i) { return i.checked; })
        .map(function (i) { return i.value; });
      return chosen.length ? chosen : null;
    }
    if (type === 'yes_no') {
      var picked = inputs.filter(function (i) { return i.checked; })[0];
      return picked ? picked.value === 'yes' : null;
    }
    var input = inputs[0];
    if (type === 'file') {
      return input.files && input.files.length ? input.files[0].name :
        (stored[name] === undefined ? null : stored[name]);
    }
    var raw = input.value;
    if (raw.trim() === '') return null;
    if (type === 'integer' || type === 'decimal' || type === 'money') {
      // What the server parses: whole numbers for integers, plain decimals otherwise.
      var pattern = type === 'integer' ? /^\s*[+-]?\d+\s*$/ :
        /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/;
      return pattern.test(raw) ? Number(raw) : null;
    }
    return type === 'long_text' ? raw : raw.trim();
  }

  function currentValues(form) {
    var stored = {};
    try {
      stored = JSON.parse(form.getAttribute('data-values') || '{}');
    } catch (error) {
      stored = {};
    }
    var values = Object.assign({}, stored);
    form.querySelectorAll('[data-field][data-type]').forEach(function (wrapper) {
      var value = readField(wrapper, stored);
      if (value !== undefined) values[wrapper.getAttribute('data-field')] = value;
    });
    return values;
  }

  function condition(element) {
    if (element.qmsflowCondition === undefined) {
      try {
        element.qmsflowCondition = JSON.parse(element.getAttribute('data-show-if'));
      } catch (error) {
        element.qmsflowCondition = null;  // unreadable: always shown
      }
    }
    return element.qmsflowCondition;
  }

  function shows(element, values) {
    var tree = condition(element);
    if (!tree) return true;
    try {
      return test(tree, values);
    } catch (error) {
      return true;
    }
  }

  function syncDisabled(form) {
    controls(form).forEach(function (input) {
      var hidden = input.closest('[data-show-if][hidden]');
      if (hidden && !input.disabled) {
        input.disabled = true;
        input.setAttribute(MARK, '');
      } else if (!hidden && input.hasAttribute(MARK)) {
        input.disabled = false;
        input.removeAttribute(MARK);
      }
    });
  }

  function update(form) {
    var elements = form.querySelectorAll('[data-show-if]');
    // A hidden field counts as empty, which may hide another: repeat until nothing changes
    // (bounded, as on the server).
    for (var round = 0; round <= elements.length; round++) {
      var values = currentValues(form);
      var changed = false;
      elements.forEach(function (element) {
        var hide = !shows(element, values);
        if (element.hidden !== hide) {
          element.hidden = hide;
          changed = true;
        }
      });
      syncDisabled(form);
      if (!changed) break;
    }
    markRequired(form, currentValues(form));
  }

  // A field required only in some cases (its own condition, or the category chosen) shows
  // its mark while that holds. When in doubt, mark: the server decides on sending.
  function markRequired(form, values) {
    form.querySelectorAll('[data-required-if]').forEach(function (mark) {
      if (mark.qmsflowRequired === undefined) {
        try {
          mark.qmsflowRequired = JSON.parse(mark.getAttribute('data-required-if'));
        } catch (error) {
          mark.qmsflowRequired = null;
        }
      }
      var needed = true;
      if (mark.qmsflowRequired) {
        try {
          needed = test(mark.qmsflowRequired, values);
        } catch (error) {
          needed = true;
        }
      }
      mark.hidden = !needed;
    });
  }

  function start() {
    document.querySelectorAll('form[data-qmsflow-form]').forEach(function (form) {
      var refresh = function () { update(form); };
      form.addEventListener('input', refresh);
      form.addEventListener('change', refresh);
      update(form);
    });
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
